/**
 * A client of the same type whose chosen methods are guarded. The client and the
 * resources on the way to a guarded method are proxied; everything else is the SDK's own.
 * Inside a proxied resource, `this._client` is the guarded client, so the SDK's helpers
 * built on `create` (`stream()`, `parse()`, `runTools()`, tool runners) go through the
 * guard too instead of around it.
 *
 * @module
 */

/** Handles one guarded method: the real resource, its original method, the call's arguments. */
export type MethodHandler = (
  resource: object,
  original: (...args: unknown[]) => unknown,
  args: unknown[],
) => unknown;

/** Guarded methods by dotted path from the client (`chat.completions.create`). */
export type Routes = Readonly<Record<string, MethodHandler>>;

interface Node {
  readonly handlers: Map<string, MethodHandler>;
  readonly children: Map<string, Node>;
}

function tree(routes: Routes): Node {
  const root: Node = { handlers: new Map(), children: new Map() };
  for (const [path, handler] of Object.entries(routes)) {
    const parts = path.split(".");
    const method = parts.pop() as string;
    let node = root;
    for (const part of parts) {
      let child = node.children.get(part);
      if (!child) {
        child = { handlers: new Map(), children: new Map() };
        node.children.set(part, child);
      }
      node = child;
    }
    node.handlers.set(method, handler);
  }
  return root;
}

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * `client` with the methods of `routes` guarded. `withOptions()` on the result returns a
 * guarded client too.
 */
export function guardClient<C extends object>(client: C, routes: Routes): C {
  const root = tree(routes);
  const guardOf = (target: object): object => {
    let rootProxy: object;
    const proxy = (resource: object, node: Node, isRoot: boolean): object => {
      const children = new Map<string, { value: object; proxy: object }>();
      const methods = new Map<string | symbol, { value: AnyFunction; wrapped: AnyFunction }>();
      const wrap = (key: string | symbol, value: AnyFunction, make: () => AnyFunction) => {
        const hit = methods.get(key);
        if (hit?.value === value) return hit.wrapped;
        const wrapped = make();
        methods.set(key, { value, wrapped });
        return wrapped;
      };
      return new Proxy(resource, {
        get(t, key) {
          // Read with the real object as receiver: getters may use private fields.
          const value: unknown = Reflect.get(t, key, t);
          if (typeof key === "string") {
            if (key === "_client" && !isRoot) return rootProxy;
            const handler = node.handlers.get(key);
            if (handler && typeof value === "function") {
              return wrap(key, value as AnyFunction, () => {
                const original = value as AnyFunction;
                return (...args: unknown[]) => handler(t, original, args);
              });
            }
            const child = node.children.get(key);
            if (child && value !== null && typeof value === "object") {
              const hit = children.get(key);
              if (hit?.value === value) return hit.proxy;
              const p = proxy(value, child, false);
              children.set(key, { value, proxy: p });
              return p;
            }
          }
          if (typeof value !== "function") return value;
          if (isRoot) {
            // The client's own methods use private fields: they run on the real client.
            if (key === "withOptions") {
              return wrap(key, value as AnyFunction, () => (...args: unknown[]) => {
                const next = (value as AnyFunction).apply(t, args);
                return next !== null && typeof next === "object" ? guardOf(next) : next;
              });
            }
            return wrap(key, value as AnyFunction, () => (value as AnyFunction).bind(t));
          }
          // A resource's other methods run on the proxy, so their `this.create(...)` and
          // `this._client...` calls are guarded.
          return value;
        },
      });
    };
    rootProxy = proxy(target, root, true);
    return rootProxy;
  };
  return guardOf(client) as C;
}
