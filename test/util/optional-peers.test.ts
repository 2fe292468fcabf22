/**
 * Optional peer dependencies are checked when the store or server that needs them is
 * created, and a missing one is one error naming every missing package and the command
 * that installs them.
 *
 * The second half runs the real package, built from this source, in a project outside the
 * repository whose node_modules has hexarch-guardrails and its dependencies but none of
 * its optional peers: module resolution is not mocked there.
 */
import { execFile } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuardrailError, MissingPeerDependencyError } from "../../src/index.ts";
// Internal: the server's list of optional peers, compared with package.json.
import { DOCS_PEER, SERVER_PEERS, serverPeers } from "../../src/server/peers.ts";
// Internal: the loader of optional peers, tested with packages that are missing.
import { importPeer, missingPeers, requirePeers } from "../../src/util/optional-peer.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

describe("MissingPeerDependencyError", () => {
  it("names one missing package and its install command", () => {
    const err = new MissingPeerDependencyError("RedisStateStore", ["redis"]);
    expect(err).toBeInstanceOf(GuardrailError);
    expect(err.code).toBe("missing_peer_dependency");
    expect(err.name).toBe("MissingPeerDependencyError");
    expect(err.packages).toEqual(["redis"]);
    expect(err.installCommand).toBe("npm install redis");
    expect(err.message).toBe("RedisStateStore needs the 'redis' package: npm install redis");
  });

  it("names every missing package in one line, with one install command for all", () => {
    const err = new MissingPeerDependencyError("serve api", ["fastify", "@fastify/cors"]);
    expect(err.message).toBe(
      "serve api needs packages that are not installed: fastify, @fastify/cors. Install them with: npm install fastify @fastify/cors",
    );
    expect(err.message).not.toContain("\n");
    expect(err.installCommand).toBe("npm install fastify @fastify/cors");
  });
});

describe("finding peers", () => {
  it("resolves packages as import() would, without loading them", () => {
    // fastify and pg are devDependencies here; the other name is nobody's package.
    expect(missingPeers(["fastify", "hexarch-no-such-package", "pg"])).toEqual([
      "hexarch-no-such-package",
    ]);
  });

  it("throws for the missing ones only, and never when it cannot tell", () => {
    const installed = new Set(["fastify"]);
    expect(() =>
      requirePeers("serve api", ["fastify", "prom-client", "@fastify/cors"], (p) =>
        installed.has(p),
      ),
    ).toThrow(
      "serve api needs packages that are not installed: prom-client, @fastify/cors. Install them with: npm install prom-client @fastify/cors",
    );
    // A bundled copy where nothing can be resolved leaves the check to the import itself.
    expect(() => requirePeers("x", ["redis"], () => undefined)).not.toThrow();
  });

  it("turns a package that cannot be imported into the same error, and lets other failures through", async () => {
    const notFound = Object.assign(new Error("Cannot find package 'pg'"), {
      code: "ERR_MODULE_NOT_FOUND",
    });
    const missing = importPeer("PostgresAuditStore", "pg", () => Promise.reject(notFound));
    await expect(missing).rejects.toBeInstanceOf(MissingPeerDependencyError);
    await expect(missing).rejects.toMatchObject({
      message: "PostgresAuditStore needs the 'pg' package: npm install pg",
      cause: notFound,
    });
    const broken = new Error("the driver threw while loading");
    await expect(importPeer("x", "pg", () => Promise.reject(broken))).rejects.toBe(broken);
  });

  it("lists exactly the packages the server's modules import, none of which its entry loads", () => {
    // Every bare package the server's modules import statically (not their types), less
    // the library's own dependencies, is a peer checked before the server is loaded.
    const own = Object.keys(
      JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")).dependencies as object,
    );
    const peersOf = (entry: string): string[] => {
      const imported = new Set<string>();
      const seen = new Set<string>();
      const visit = (file: string) => {
        if (seen.has(file)) return;
        seen.add(file);
        const text = readFileSync(file, "utf8");
        for (const m of text.matchAll(
          /(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/g,
        )) {
          const spec = m[1] as string;
          if (spec.startsWith(".")) visit(resolve(dirname(file), spec));
          else if (!spec.startsWith("node:"))
            imported.add(
              spec
                .split("/")
                .slice(0, spec.startsWith("@") ? 2 : 1)
                .join("/"),
            );
        }
      };
      visit(join(REPO, "src", entry));
      return [...imported].filter((p) => !own.includes(p)).sort();
    };
    expect(peersOf("server/app.ts")).toEqual([...SERVER_PEERS].sort());
    // The entry loads them only when createServer is called, after checking for them.
    expect(peersOf("server/index.ts")).toEqual([]);
    // The Swagger UI is imported only when the docs are on.
    expect(readFileSync(join(REPO, "src/server/app.ts"), "utf8")).toContain(
      `await import("${DOCS_PEER}")`,
    );
    expect(serverPeers({ docs: true })).toEqual([...SERVER_PEERS, DOCS_PEER]);
  });
});

/**
 * The package built from this source into `<tmp>/build`, and projects that install it
 * without its optional peers.
 */
describe("in a project without the optional peers", () => {
  let root = "";
  let build = "";

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "hexarch-peers-"));
    build = join(root, "build");
    mkdirSync(build);
    // As `npm run build` builds it (scripts/build.ts: the bundle that ships), without the
    // type declarations; plain `tsc` output where there is no such script.
    const script = join(REPO, "scripts/build.ts");
    await run(
      process.execPath,
      existsSync(script)
        ? [script, "--out", join(build, "dist"), "--no-types"]
        : [
            join(REPO, "node_modules/typescript/bin/tsc"),
            ...["-p", join(REPO, "tsconfig.build.json"), "--outDir", join(build, "dist")],
            ...["--noCheck", "--declaration", "false", "--declarationMap", "false"],
            ...["--sourceMap", "false", "--emitDeclarationOnly", "false"],
          ],
      { cwd: REPO },
    );
    cpSync(join(REPO, "package.json"), join(build, "package.json"));
    cpSync(join(REPO, "schema"), join(build, "schema"), { recursive: true });
  }, 180_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  /**
   * A project whose node_modules has a copy of the package (so that it resolves its peers
   * from the project, not from this repository), its dependencies, and `peers` only.
   */
  function project(peers: readonly string[] = []): string {
    const dir = mkdtempSync(join(root, "app-"));
    writeFileSync(join(dir, "package.json"), '{ "private": true, "type": "module" }\n');
    const modules = join(dir, "node_modules");
    cpSync(build, join(modules, "hexarch-guardrails"), { recursive: true });
    const pkg = JSON.parse(readFileSync(join(build, "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    // The dependencies are linked from this repository's node_modules; each resolves its
    // own from there. The peers we link are the ones the test says are installed.
    for (const name of [...Object.keys(pkg.dependencies), ...peers]) {
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      symlinkSync(join(REPO, "node_modules", name), join(modules, name), "dir");
    }
    return dir;
  }

  const ctl = (cwd: string, args: readonly string[]) =>
    run(process.execPath, [join(cwd, "node_modules/hexarch-guardrails/dist/cli/bin.js"), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? "", NO_COLOR: "1" },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        stdout: e.stdout,
        stderr: e.stderr,
      }),
    );

  /** Runs an ES module in the project, printing what it prints. */
  const script = async (cwd: string, source: string): Promise<string> => {
    const file = join(cwd, `probe-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, source);
    return (await run(process.execPath, [file], { cwd })).stdout;
  };

  /** A probe that reports how `make()` fared: the error's fields, or that nothing was thrown. */
  const probe = (imports: string, make: string) => `${imports}
try {
  ${make};
  console.log(JSON.stringify({ thrown: false }));
} catch (e) {
  console.log(JSON.stringify({ thrown: true, name: e.name, code: e.code, message: e.message,
    packages: e.packages, installCommand: e.installCommand, guardrail: e instanceof GuardrailError }));
}`;

  it("has none of the peers: the project cannot resolve them", async () => {
    const dir = project();
    for (const p of ["fastify", "redis", "pg"])
      expect(existsSync(join(dir, "node_modules", p)), p).toBe(false);
    const out = await script(
      dir,
      `for (const p of ["fastify", "redis", "pg", "commander"]) {
  try { import.meta.resolve(p); console.log(p, "found"); } catch { console.log(p, "missing"); }
}`,
    );
    // Were any of them above the project (a node_modules in a parent directory), the
    // tests below would prove nothing.
    expect(out).toBe("fastify missing\nredis missing\npg missing\ncommander found\n");
  });

  it("imports every entry, the server's too, without any peer installed", async () => {
    const dir = project();
    const entries = ["", "/audit", "/redis", "/testing", "/opa", "/server"].map(
      (e) => `hexarch-guardrails${e}`,
    );
    const out = await script(
      dir,
      `for (const e of ${JSON.stringify(entries)}) {
  await import(e);
  console.log(e);
}`,
    );
    expect(out.trim().split("\n")).toEqual(entries);
  });

  it("`hexarch-ctl serve api` names every missing package in one line, and exits 1", async () => {
    const dir = project();
    const r = await ctl(dir, ["serve", "api"]);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "hexarch-ctl: serve api needs packages that are not installed: fastify, @fastify/cors, @fastify/helmet, @fastify/rate-limit, @fastify/swagger, prom-client. Install them with: npm install fastify @fastify/cors @fastify/helmet @fastify/rate-limit @fastify/swagger prom-client\n",
    });
  });

  it("`serve api` adds what its flags need, and leaves out what is installed", async () => {
    const dir = project(["fastify", "prom-client"]);
    const r = await ctl(dir, [
      ...["serve", "api", "--docs", "--allow-anon"],
      ...["--redis-url", "redis://127.0.0.1:6379", "--pg-url", "postgres://127.0.0.1:1/x"],
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "hexarch-ctl: serve api needs packages that are not installed: @fastify/cors, @fastify/helmet, @fastify/rate-limit, @fastify/swagger, @fastify/swagger-ui, redis, pg. Install them with: npm install @fastify/cors @fastify/helmet @fastify/rate-limit @fastify/swagger @fastify/swagger-ui redis pg\n",
    );
  });

  it("hexarch-guardrails/server imports without Fastify, and creating a server names what to install", async () => {
    const dir = project(["prom-client"]);
    const out = await script(
      dir,
      `import { createServer, redactUrl, startServer } from "hexarch-guardrails/server";
console.log(redactUrl("/approvals/abc.def"));
const closed = [];
const closer = (name) => ({ close: async () => void closed.push(name) });
const guardian = { ...closer("guardian"), evaluate: async () => ({}), listPolicies: () => [] };
for (const [name, start] of [
  ["createServer", () => createServer({ guardian, allowAnon: true, docs: true })],
  ["startServer", () => startServer({ guardian, auditLogger: closer("audit log"), allowAnon: true, handleSignals: false })],
]) {
  try { await start(); console.log(name, "started"); }
  catch (e) { console.log(name, e.code, e.message); }
}
console.log("closed:", closed.join(", "));`,
    );
    const missing =
      "fastify, @fastify/cors, @fastify/helmet, @fastify/rate-limit, @fastify/swagger";
    const install =
      "npm install fastify @fastify/cors @fastify/helmet @fastify/rate-limit @fastify/swagger";
    expect(out.split("\n")).toEqual([
      "/approvals/abc.***",
      `createServer missing_peer_dependency hexarch-guardrails/server needs packages that are not installed: ${missing}, @fastify/swagger-ui. Install them with: ${install} @fastify/swagger-ui`,
      `startServer missing_peer_dependency hexarch-guardrails/server needs packages that are not installed: ${missing}. Install them with: ${install}`,
      // startServer owns what it was given from the start: it closes them when it cannot start.
      "closed: audit log, guardian",
      "",
    ]);
  });

  it("a command on PostgreSQL without `pg` says so in one line, not as a bug", async () => {
    const dir = project();
    const r = await ctl(dir, ["audit", "list", "--pg-url", "postgres://127.0.0.1:1/x"]);
    expect(r).toEqual({
      code: 1,
      stdout: "",
      stderr: "hexarch-ctl: PostgresAuditStore needs the 'pg' package: npm install pg\n",
    });
  });

  it("the Redis stores check for `redis` when created from a URL, not on the first call", async () => {
    const dir = project();
    const imports = `import { GuardrailError } from "hexarch-guardrails";
import { RedisConfirmationStore, RedisReplayGuard, RedisStateStore } from "hexarch-guardrails/redis";`;
    for (const cls of ["RedisStateStore", "RedisConfirmationStore", "RedisReplayGuard"]) {
      const thrown = JSON.parse(
        await script(dir, probe(imports, `new ${cls}({ url: "redis://127.0.0.1:6379" })`)),
      );
      expect(thrown, cls).toEqual({
        thrown: true,
        name: "MissingPeerDependencyError",
        code: "missing_peer_dependency",
        message: `${cls} needs the 'redis' package: npm install redis`,
        packages: ["redis"],
        installCommand: "npm install redis",
        guardrail: true,
      });
    }
    // A client of your own needs no driver of ours.
    const client = `{ client: { sendCommand: async () => "OK" } }`;
    expect(JSON.parse(await script(dir, probe(imports, `new RedisStateStore(${client})`)))).toEqual(
      { thrown: false },
    );
  });

  it("the PostgreSQL stores check for `pg` when given settings, and need nothing with a pool", async () => {
    const dir = project();
    const imports = `import { GuardrailError } from "hexarch-guardrails";
import { PostgresAuditStore, PostgresConfirmationStore } from "hexarch-guardrails/audit";`;
    const audit = JSON.parse(
      await script(dir, probe(imports, `new PostgresAuditStore("postgres://127.0.0.1:1/x")`)),
    );
    expect(audit).toMatchObject({
      thrown: true,
      code: "missing_peer_dependency",
      message: "PostgresAuditStore needs the 'pg' package: npm install pg",
      installCommand: "npm install pg",
      guardrail: true,
    });
    const settings = JSON.parse(
      await script(dir, probe(imports, `new PostgresConfirmationStore({ host: "127.0.0.1" })`)),
    );
    expect(settings).toMatchObject({ thrown: true, code: "missing_peer_dependency" });
    const pool = `{ query: async () => ({ rows: [], rowCount: 0 }), connect: async () => ({}) }`;
    expect(
      JSON.parse(await script(dir, probe(imports, `new PostgresAuditStore(${pool})`))),
    ).toEqual({ thrown: false });
  });
});
