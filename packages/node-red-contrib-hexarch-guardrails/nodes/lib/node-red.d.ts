/**
 * The parts of Node-RED's runtime API these nodes use, typed locally (Node-RED ships no
 * types, and @types/node-red lags behind its releases). Only for the type checker: nothing
 * here is loaded at run time.
 */

/** A message passing through a flow. */
export interface NodeMessage {
  _msgid?: string;
  payload?: unknown;
  [property: string]: unknown;
}

/** What `node.status()` shows under a node in the editor. */
export interface NodeStatus {
  fill?: "red" | "green" | "yellow" | "blue" | "grey";
  shape?: "dot" | "ring";
  text?: string;
}

/** One message per output; `null` sends nothing there. */
export type SendFn = (msg: NodeMessage | ReadonlyArray<NodeMessage | null>) => void;
/** Ends a message's handling; an error goes to the flow's catch nodes. */
export type DoneFn = (err?: Error) => void;

/** The properties every node definition has (the flow JSON of the node). */
export interface NodeDef {
  id: string;
  type: string;
  name?: string;
  z?: string;
}

/** A node instance, as `RED.nodes.createNode` makes `this` into. */
export interface Node<Credentials extends object = Record<string, never>> {
  id: string;
  type: string;
  name?: string;
  credentials: Partial<Credentials>;
  on(event: "input", listener: (msg: NodeMessage, send: SendFn, done: DoneFn) => void): void;
  on(event: "close", listener: (removed: boolean, done: () => void) => void): void;
  status(status: NodeStatus | Record<string, never>): void;
  error(err: unknown, msg?: NodeMessage): void;
  warn(message: unknown): void;
  log(message: unknown): void;
}

/** A prepared JSONata expression (opaque here). */
export interface JSONataExpression {
  evaluate(input: unknown): unknown;
}

/** The credentials a node type declares: each property's input type in the editor. */
export type CredentialsDef = Record<string, { type: "text" | "password" }>;

/** The `RED` object a node module's exported function is given. */
export interface NodeAPI {
  nodes: {
    createNode(node: object, def: NodeDef): void;
    registerType(
      type: string,
      // Node-RED calls it with `new`; `never` accepts any node's own `this` and definition types.
      nodeConstructor: (this: never, def: never) => void,
      options?: { credentials?: CredentialsDef },
    ): void;
    getNode(id: string): object | null;
  };
  util: {
    prepareJSONataExpression(expression: string, node: object): JSONataExpression;
    evaluateJSONataExpression(
      expression: JSONataExpression,
      msg: NodeMessage,
      callback: (err: Error | null, value: unknown) => void,
    ): void;
    getMessageProperty(msg: NodeMessage, property: string): unknown;
    setMessageProperty(
      msg: NodeMessage,
      property: string,
      value: unknown,
      createMissing?: boolean,
    ): boolean;
  };
}
