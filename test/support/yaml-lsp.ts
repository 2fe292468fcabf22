/**
 * A minimal Language Server Protocol client for the real `yaml-language-server` (the
 * server behind the VS Code YAML extension and most editors' YAML support), so tests can
 * check what an editor shows for `hexarch.yaml`: diagnostics, completion and hover.
 *
 * Only the parts of LSP the tests use: Content-Length framed JSON-RPC over stdio, the
 * requests the server sends back (configuration, capability registration) answered, and
 * every wait bounded by a timeout whose message says what was awaited.
 *
 * @module
 */

import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/** An LSP position: 0-based line and UTF-16 column. */
export interface LspPosition {
  readonly line: number;
  readonly character: number;
}

/** One diagnostic as published by the server. */
export interface LspDiagnostic {
  readonly range: { readonly start: LspPosition; readonly end: LspPosition };
  readonly message: string;
  readonly severity?: number;
  readonly source?: string;
}

/** One completion proposal. */
export interface LspCompletionItem {
  readonly label: string;
  readonly kind?: number;
  readonly insertText?: string;
  readonly documentation?: string | { readonly kind: string; readonly value: string };
}

interface RpcMessage {
  readonly jsonrpc: "2.0";
  readonly id?: number | string;
  readonly method?: string;
  readonly params?: unknown;
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string };
}

/** Settings the server asks for: validation, completion and hover on; no network. */
const SETTINGS = {
  yaml: {
    validate: true,
    completion: true,
    hover: true,
    format: { enable: false },
    // The schema store catalog is fetched from the network; the tests use local files only.
    schemaStore: { enable: false },
    schemas: {},
  },
};

const require = createRequire(import.meta.url);

/** The server's entry script (run with this Node, not whatever `node` is on PATH). */
function serverScript(): string {
  const pkg = require.resolve("yaml-language-server/package.json");
  return join(dirname(pkg), "bin", "yaml-language-server");
}

/** A running yaml-language-server speaking LSP over stdio. */
export class YamlLanguageServer {
  readonly #proc: ChildProcessWithoutNullStreams;
  #buffer = Buffer.alloc(0);
  #nextId = 1;
  readonly #pending = new Map<number, (m: RpcMessage) => void>();
  readonly #diagnostics = new Map<string, LspDiagnostic[][]>();
  readonly #diagnosticWaiters = new Set<() => void>();
  #stderr = "";
  #exited: string | undefined;

  private constructor() {
    this.#proc = spawn(process.execPath, [serverScript(), "--stdio"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#proc.stdout.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.#proc.stderr.on("data", (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString("utf8")).slice(-4000);
    });
    this.#proc.on("exit", (code, signal) => {
      this.#exited = `yaml-language-server exited (code ${code}, signal ${signal}); stderr: ${this.#stderr}`;
      for (const wake of this.#diagnosticWaiters) wake();
    });
  }

  /** Starts the server and completes the `initialize` handshake. */
  static async start(rootDir: string, timeoutMs = 8000): Promise<YamlLanguageServer> {
    const server = new YamlLanguageServer();
    await server.request(
      "initialize",
      {
        processId: process.pid,
        rootUri: pathToFileURL(rootDir).href,
        capabilities: {
          textDocument: {
            completion: {
              completionItem: {
                snippetSupport: true,
                documentationFormat: ["markdown", "plaintext"],
              },
            },
            hover: { contentFormat: ["markdown", "plaintext"] },
            publishDiagnostics: {},
          },
          workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
        },
        workspaceFolders: [{ uri: pathToFileURL(rootDir).href, name: "test" }],
      },
      timeoutMs,
    );
    server.notify("initialized", {});
    server.notify("workspace/didChangeConfiguration", { settings: SETTINGS });
    return server;
  }

  /** Opens a document; the server validates it and publishes diagnostics. */
  open(file: string, text: string): string {
    const uri = pathToFileURL(file).href;
    this.notify("textDocument/didOpen", {
      textDocument: { uri, languageId: "yaml", version: 1, text },
    });
    return uri;
  }

  /**
   * The diagnostics of the first publication for `uri` that satisfies `ready` (by default:
   * any non-empty one). Fails with the last publications seen when none does in time.
   */
  async diagnostics(
    uri: string,
    ready: (d: readonly LspDiagnostic[]) => boolean = (d) => d.length > 0,
    timeoutMs = 8000,
  ): Promise<LspDiagnostic[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (this.#diagnostics.get(uri) ?? []).find(ready);
      if (found) return found;
      if (this.#exited) throw new Error(this.#exited);
      const left = deadline - Date.now();
      if (left <= 0) {
        const seen = this.#diagnostics.get(uri) ?? [];
        throw new Error(
          `no matching diagnostics for ${uri} within ${timeoutMs} ms; publications seen: ${JSON.stringify(seen)}; stderr: ${this.#stderr}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#diagnosticWaiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#diagnosticWaiters.add(wake);
      });
    }
  }

  /** Completion proposals at a position. */
  async completion(uri: string, position: LspPosition): Promise<LspCompletionItem[]> {
    const result = (await this.request("textDocument/completion", {
      textDocument: { uri },
      position,
    })) as { items?: LspCompletionItem[] } | LspCompletionItem[] | null;
    if (result === null) return [];
    return Array.isArray(result) ? result : (result.items ?? []);
  }

  /** The hover text at a position ("" when there is none). */
  async hover(uri: string, position: LspPosition): Promise<string> {
    const result = (await this.request("textDocument/hover", {
      textDocument: { uri },
      position,
    })) as { contents?: { value?: string } | string } | null;
    const contents = result?.contents;
    return typeof contents === "string" ? contents : (contents?.value ?? "");
  }

  /** Sends a request and waits for its answer. */
  request(method: string, params: unknown, timeoutMs = 8000): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      if (this.#exited) {
        reject(new Error(this.#exited));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(
          new Error(
            `yaml-language-server did not answer ${method} within ${timeoutMs} ms; stderr: ${this.#stderr}`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(id, (m) => {
        clearTimeout(timer);
        if (m.error) reject(new Error(`${method} failed: ${m.error.message}`));
        else resolve(m.result);
      });
      this.#send({ jsonrpc: "2.0", id, method, params });
    });
  }

  /** Sends a notification. */
  notify(method: string, params: unknown): void {
    this.#send({ jsonrpc: "2.0", method, params });
  }

  /** Shuts the server down (politely, then by signal). */
  async close(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise<void>((resolve) => this.#proc.once("exit", () => resolve()));
    try {
      await this.request("shutdown", null, 2000);
      this.notify("exit", null);
    } catch {
      // A server that does not answer is stopped below.
    }
    const timer = setTimeout(() => this.#proc.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  }

  #send(message: RpcMessage): void {
    const body = Buffer.from(JSON.stringify(message), "utf8");
    this.#proc.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
    this.#proc.stdin.write(body);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const headerEnd = this.#buffer.indexOf("\r\n\r\n");
      if (headerEnd < 0) return;
      const header = this.#buffer.subarray(0, headerEnd).toString("ascii");
      const length = Number(/Content-Length: (\d+)/i.exec(header)?.[1]);
      if (!Number.isFinite(length)) throw new Error(`bad LSP header: ${header}`);
      const start = headerEnd + 4;
      if (this.#buffer.length < start + length) return;
      const body = this.#buffer.subarray(start, start + length).toString("utf8");
      this.#buffer = this.#buffer.subarray(start + length);
      this.#onMessage(JSON.parse(body) as RpcMessage);
    }
  }

  #onMessage(m: RpcMessage): void {
    if (m.method === undefined && typeof m.id === "number") {
      this.#pending.get(m.id)?.(m);
      this.#pending.delete(m.id);
      return;
    }
    if (m.method === "textDocument/publishDiagnostics") {
      const p = m.params as { uri: string; diagnostics: LspDiagnostic[] };
      const list = this.#diagnostics.get(p.uri) ?? [];
      list.push(p.diagnostics);
      this.#diagnostics.set(p.uri, list);
      for (const wake of [...this.#diagnosticWaiters]) wake();
      return;
    }
    if (m.id !== undefined && m.method !== undefined) {
      // A request from the server: settings for `workspace/configuration`, null otherwise.
      const result =
        m.method === "workspace/configuration"
          ? ((m.params as { items?: { section?: string }[] }).items ?? []).map((item) =>
              item.section === undefined
                ? SETTINGS
                : ((SETTINGS as Record<string, unknown>)[item.section] ?? null),
            )
          : null;
      this.#send({ jsonrpc: "2.0", id: m.id, result });
    }
  }
}
