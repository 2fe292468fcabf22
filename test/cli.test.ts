import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { VERSION } from "../src/version.ts";

const BIN = fileURLToPath(new URL("../src/cli/bin.ts", import.meta.url));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [BIN, ...args], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1" },
  });

describe("hexarch-ctl", () => {
  it("prints the package's version", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    const r = run("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it("prints usage with --help and with no command", () => {
    for (const r of [run("--help"), run()]) {
      expect(r.status).toBe(0);
      expect(r.stdout).toContain("hexarch-ctl demo");
    }
  });

  it("runs the demo", () => {
    const r = run("demo");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Policy 'safe_delete' requires confirmation");
  });

  it("exits 2 with a hint on an unknown command, without a stack trace", () => {
    const r = run("frobnicate");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
    expect(r.stderr).toContain("hint: run hexarch-ctl --help");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
