import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  discoverPolicyFile,
  loadPolicyFile,
  POLICY_FILE_NAMES,
  PolicyFileError,
} from "../../src/index.ts";

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
function inTempDir(fn: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), "hexarch-discover-"));
  try {
    fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** Writes a policy file with a single policy whose id tells the files apart. */
function writePolicy(path: string, id = "found"): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `policies:\n  - id: ${id}\n    rules:\n      - action: allow\n`);
  return path;
}

function mkdirs(path: string): string {
  mkdirSync(path, { recursive: true });
  return path;
}

/** Calls `fn` and returns the PolicyFileError it must throw. */
function failure(fn: () => unknown): PolicyFileError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyFileError);
    return err as PolicyFileError;
  }
  throw new Error("expected a PolicyFileError");
}

const NO_ENV = { env: {} };

describe("the file names looked for", () => {
  it("are hexarch.yaml, hexarch.yml, .hexarch.yaml, .hexarch.yml, in that order", () => {
    expect(POLICY_FILE_NAMES).toEqual([
      "hexarch.yaml",
      "hexarch.yml",
      ".hexarch.yaml",
      ".hexarch.yml",
    ]);
  });
});

describe("an explicit path", () => {
  it("is used as given when absolute", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "conf", "guards.yaml"));
      writePolicy(join(root, "hexarch.yaml"), "ignored");
      expect(discoverPolicyFile(file, { cwd: root, ...NO_ENV })).toBe(file);
    });
  });

  it("is resolved against cwd when relative", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "conf", "guards.yaml"));
      expect(discoverPolicyFile("conf/guards.yaml", { cwd: root, ...NO_ENV })).toBe(file);
      expect(
        discoverPolicyFile("../guards.yaml", { cwd: join(root, "conf", "x"), ...NO_ENV }),
      ).toBe(file);
    });
  });

  it("wins over HEXARCH_POLICY_FILE", () => {
    inTempDir((root) => {
      const explicit = writePolicy(join(root, "explicit.yaml"));
      const fromEnv = writePolicy(join(root, "from-env.yaml"));
      expect(
        discoverPolicyFile(explicit, { cwd: root, env: { HEXARCH_POLICY_FILE: fromEnv } }),
      ).toBe(explicit);
    });
  });

  it("that does not exist is an error naming the resolved path, without searching", () => {
    inTempDir((root) => {
      writePolicy(join(root, "hexarch.yaml"));
      const err = failure(() =>
        discoverPolicyFile("missing/policy.yaml", { cwd: root, ...NO_ENV }),
      );
      expect(err.message).toBe(
        `policy file not found: ${join(root, "missing", "policy.yaml")} (given as policyFile)`,
      );
      expect(err.issues).toEqual([]);
    });
  });

  it("that is a directory is an error too", () => {
    inTempDir((root) => {
      mkdirs(join(root, "hexarch.yaml"));
      const err = failure(() => discoverPolicyFile("hexarch.yaml", { cwd: root, ...NO_ENV }));
      expect(err.message).toContain(join(root, "hexarch.yaml"));
      expect(err.message).toContain("not found");
    });
  });

  it("that is missing makes loadPolicyFile throw the same error", () => {
    inTempDir((root) => {
      const err = failure(() => loadPolicyFile("nope.yaml", { cwd: root, ...NO_ENV }));
      expect(err.message).toContain(join(root, "nope.yaml"));
      expect(err.message).toContain("given as policyFile");
    });
  });
});

describe("HEXARCH_POLICY_FILE", () => {
  it("is used when no path is given, before any search", () => {
    inTempDir((root) => {
      writePolicy(join(root, "hexarch.yaml"), "nearby");
      const file = writePolicy(join(root, "shared", "team-guards.yaml"), "shared");
      expect(discoverPolicyFile(undefined, { cwd: root, env: { HEXARCH_POLICY_FILE: file } })).toBe(
        file,
      );
      const set = loadPolicyFile(undefined, { cwd: root, env: { HEXARCH_POLICY_FILE: file } });
      expect(set.source).toBe(file);
      expect(set.policies.map((p) => p.id)).toEqual(["shared"]);
    });
  });

  it("is resolved against cwd when relative", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "shared", "team-guards.yaml"));
      expect(
        discoverPolicyFile(undefined, {
          cwd: root,
          env: { HEXARCH_POLICY_FILE: "shared/team-guards.yaml" },
        }),
      ).toBe(file);
    });
  });

  it("pointing at a missing file is an error naming the path and the variable", () => {
    inTempDir((root) => {
      writePolicy(join(root, "hexarch.yaml"));
      const err = failure(() =>
        discoverPolicyFile(undefined, { cwd: root, env: { HEXARCH_POLICY_FILE: "gone.yaml" } }),
      );
      expect(err.message).toBe(
        `policy file not found: ${join(root, "gone.yaml")} (from HEXARCH_POLICY_FILE)`,
      );
    });
  });

  it("set to an empty string counts as unset", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "hexarch.yaml"));
      expect(discoverPolicyFile(undefined, { cwd: root, env: { HEXARCH_POLICY_FILE: "" } })).toBe(
        file,
      );
    });
  });

  it("is read from process.env when no env option is given", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "from-process-env.yaml"));
      const before = process.env.HEXARCH_POLICY_FILE;
      process.env.HEXARCH_POLICY_FILE = file;
      try {
        expect(discoverPolicyFile(undefined, { cwd: root })).toBe(file);
      } finally {
        if (before === undefined) delete process.env.HEXARCH_POLICY_FILE;
        else process.env.HEXARCH_POLICY_FILE = before;
      }
    });
  });
});

describe("searching upward from the working directory", () => {
  it("finds hexarch.yaml in cwd", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "hexarch.yaml"));
      expect(discoverPolicyFile(undefined, { cwd: root, ...NO_ENV })).toBe(file);
    });
  });

  it("walks up from a nested directory to the project root", () => {
    inTempDir((root) => {
      const file = writePolicy(join(root, "hexarch.yaml"), "project");
      const nested = mkdirs(join(root, "packages", "api", "src", "handlers"));
      expect(discoverPolicyFile(undefined, { cwd: nested, ...NO_ENV })).toBe(file);
      const set = loadPolicyFile(undefined, { cwd: nested, ...NO_ENV });
      expect(set.source).toBe(file);
      expect(set.policies.map((p) => p.id)).toEqual(["project"]);
    });
  });

  it("prefers hexarch.yaml > hexarch.yml > .hexarch.yaml > .hexarch.yml in one directory", () => {
    inTempDir((root) => {
      const paths = POLICY_FILE_NAMES.map((name) => writePolicy(join(root, name), "x"));
      const found: string[] = [];
      for (const path of paths) {
        found.push(discoverPolicyFile(undefined, { cwd: root, ...NO_ENV }));
        rmSync(path);
      }
      expect(found).toEqual([
        join(root, "hexarch.yaml"),
        join(root, "hexarch.yml"),
        join(root, ".hexarch.yaml"),
        join(root, ".hexarch.yml"),
      ]);
    });
  });

  it("takes the nearer directory's file, even with a lower-ranked name", () => {
    inTempDir((root) => {
      writePolicy(join(root, "hexarch.yaml"), "far");
      const near = writePolicy(join(root, "service", ".hexarch.yml"), "near");
      const cwd = mkdirs(join(root, "service", "lib"));
      expect(discoverPolicyFile(undefined, { cwd, ...NO_ENV })).toBe(near);
      expect(loadPolicyFile(undefined, { cwd, ...NO_ENV }).policies[0]?.id).toBe("near");
    });
  });

  it("skips a directory that happens to be named hexarch.yaml", () => {
    inTempDir((root) => {
      mkdirs(join(root, "hexarch.yaml"));
      const file = writePolicy(join(root, "hexarch.yml"));
      expect(discoverPolicyFile(undefined, { cwd: root, ...NO_ENV })).toBe(file);
    });
  });

  it("fails when nothing is found, listing every path it looked at in order", () => {
    inTempDir((root) => {
      const cwd = mkdirs(join(root, "a", "b"));
      const expected: string[] = [];
      for (let dir = cwd; ; dir = dirname(dir)) {
        for (const name of POLICY_FILE_NAMES) expected.push(join(dir, name));
        if (dirname(dir) === dir) break;
      }

      const err = failure(() => discoverPolicyFile(undefined, { cwd, ...NO_ENV }));

      const [head, ...listed] = err.message.split("\n");
      expect(head).toContain("no policy file found");
      expect(head).toContain("hexarch.yaml");
      expect(head).toContain("HEXARCH_POLICY_FILE");
      expect(head).toContain("policyFile");
      expect(listed.map((l) => l.trim())).toEqual(expected);
      expect(listed[0]).toBe(`  ${join(cwd, "hexarch.yaml")}`);
      expect(listed).toContain(`  ${join(root, ".hexarch.yml")}`);
      expect(err.issues).toEqual([]);
    });
  });

  it("makes loadPolicyFile fail the same way when nothing is found", () => {
    inTempDir((root) => {
      const err = failure(() => loadPolicyFile(undefined, { cwd: root, ...NO_ENV }));
      expect(err.message).toContain("no policy file found");
      expect(err.message).toContain(`  ${join(root, "hexarch.yaml")}`);
    });
  });
});
