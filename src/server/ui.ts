/**
 * The console at `/ui`: the static files `npm run build:ui` writes (`dist/ui/`), read into
 * memory when the server starts and served from there. Only the files the build's
 * `manifest.json` lists are served, by exact name: nothing from a URL ever reaches the file
 * system. Hashed assets are cached for ever (`immutable`), `index.html` is revalidated
 * (`no-cache`), each has an `ETag`. The answers carry a strict Content-Security-Policy of
 * their own (no inline script or style, nothing from another origin).
 *
 * The files carry no data (every data route keeps its authentication), so these routes
 * are public; they are left out of the OpenAPI document.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { HttpError } from "./errors.ts";

/** The Content-Security-Policy of every `/ui` answer. */
export const UI_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** One file of the built console, in memory. */
interface UiFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
  readonly immutable: boolean;
}

/** What `manifest.json` lists. */
interface Manifest {
  readonly files: readonly {
    readonly name: string;
    readonly type: string;
    readonly immutable: boolean;
  }[];
}

/**
 * Where the built console is: `HEXARCH_UI_DIR` when set, else `dist/ui` found from this
 * module (`../ui` from the bundled `dist/server/ui.js`, `../../dist/ui` from
 * `src/server/ui.ts` in a source checkout); the first with a `manifest.json`, else the
 * first candidate.
 */
export function uiDirectory(env: NodeJS.ProcessEnv = process.env): string {
  const given = env.HEXARCH_UI_DIR;
  if (given !== undefined && given !== "") return resolve(given);
  const here = import.meta.dirname;
  const candidates = [join(here, "../ui"), join(here, "../../dist/ui")];
  return (
    candidates.find((d) => existsSync(join(d, "manifest.json"))) ?? join(here, "../../dist/ui")
  );
}

/** Whether a request URL (path and query) is `/ui` or under it. */
export function isUiPath(url: string): boolean {
  return url === "/ui" || url.startsWith("/ui/") || url.startsWith("/ui?");
}

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * Reads the built console from `dir`: every file its manifest lists (plain names only),
 * or `undefined` when it is not built (no manifest, or a listed file missing).
 */
export function loadUi(dir: string): ReadonlyMap<string, UiFile> | undefined {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
  if (!Array.isArray(manifest.files)) return undefined;
  const files = new Map<string, UiFile>();
  for (const f of manifest.files) {
    if (typeof f.name !== "string" || !SAFE_NAME.test(f.name)) return undefined;
    let body: Buffer;
    try {
      body = readFileSync(join(dir, f.name));
    } catch {
      return undefined;
    }
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    files.set(f.name, {
      body,
      type: typeof f.type === "string" ? f.type : "application/octet-stream",
      etag,
      immutable: f.immutable === true,
    });
  }
  return files.has("index.html") ? files : undefined;
}

/** Options of {@link uiRoutes}. */
export interface UiRouteOptions {
  /** Where the built console is. @default {@link uiDirectory}() */
  readonly dir?: string;
}

/**
 * Registers `GET /ui` (a redirect to `/ui/`), `/ui/` (the page) and `/ui/<file>` (its
 * assets). When the console is not built they answer 503 `ui_not_built`; the server still
 * starts.
 */
export function uiRoutes(app: FastifyInstance, options: UiRouteOptions = {}): void {
  const dir = options.dir ?? uiDirectory();
  const files = loadUi(dir);
  if (!files)
    app.log.warn(
      { dir },
      "the console (/ui) is not built: run npm run build:ui (or set HEXARCH_UI_DIR)",
    );
  const route = { config: { public: true }, schema: { hide: true } } as const;
  // Every answer under /ui carries the console's policy: the redirect, a 404 for a file or
  // method it does not serve, a 401 or 429 from a hook, not just the files.
  app.addHook("onSend", async (request, reply, payload) => {
    if (isUiPath(request.url)) void reply.header("content-security-policy", UI_CSP);
    return payload;
  });

  const serve = (name: string, request: FastifyRequest, reply: FastifyReply) => {
    void reply.header("content-security-policy", UI_CSP);
    if (!files)
      throw new HttpError(
        503,
        "ui_not_built",
        "the console is not built: run npm run build:ui (or point HEXARCH_UI_DIR at a built console)",
      );
    const file = files.get(name);
    if (!file)
      throw new HttpError(404, "route_not_found", `no route ${request.method} /ui/${name}`);
    void reply
      .header("content-type", file.type)
      .header("etag", file.etag)
      .header("cache-control", file.immutable ? "public, max-age=31536000, immutable" : "no-cache");
    if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
    return reply.send(file.body);
  };

  app.get("/ui", route, async (_request, reply) => reply.redirect("/ui/", 302));
  app.get<{ Params: { "*": string } }>("/ui/*", route, async (request, reply) => {
    const name = request.params["*"];
    return serve(name === "" ? "index.html" : name, request, reply);
  });
}
