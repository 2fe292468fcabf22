import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";
import { ConfirmationRequired, Guardian } from "../../src/index.ts";

const POLICIES = `
policies:
  - id: safe_delete
    rules:
      - operation: delete
        action: require_confirmation
`;

// A class as users write it, compiled the way their build would compile it.
const SOURCE = `
export function makeService(guardian: any) {
  class UserService {
    prefix = "deleted";
    @guardian.check("safe_delete", { operation: "delete" })
    async remove(id: string): Promise<string> {
      return this.prefix + " " + id;
    }
  }
  return UserService;
}
`;

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

async function compile(experimentalDecorators: boolean) {
  const out = ts.transpileModule(SOURCE, {
    compilerOptions: {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.ESNext,
      experimentalDecorators,
    },
  });
  const dir = mkdtempSync(join(tmpdir(), "hexarch-decorators-"));
  made.push(dir);
  const file = join(dir, `service-${experimentalDecorators ? "legacy" : "tc39"}.mjs`);
  writeFileSync(file, out.outputText);
  return (await import(pathToFileURL(file).href)) as {
    makeService: (g: Guardian) => new () => { remove(id: string): Promise<string>; prefix: string };
  };
}

describe.each([
  ["standard (TC39) decorators", false],
  ["legacy experimentalDecorators (NestJS)", true],
])("%s", (_name, legacy) => {
  it("guards the method, keeps `this` and the method name", async () => {
    const { makeService } = await compile(legacy);
    const names: (string | undefined)[] = [];
    const guardian = new Guardian({
      policies: POLICIES,
      env: {},
      auditLogger: { record: (e) => void names.push(e.functionName) },
    });
    const Service = makeService(guardian);
    const service = new Service();
    await expect(service.remove("u1")).rejects.toBeInstanceOf(ConfirmationRequired);
    expect(names).toEqual(["remove"]);
    expect(Service.prototype.remove.name).toBe("remove");
    await expect(guardian.withContext({ confirm: true }, () => service.remove("u1"))).resolves.toBe(
      "deleted u1",
    );
  });
});

describe("decorating something other than a method", () => {
  it("says so", () => {
    const guardian = new Guardian({ policies: POLICIES, env: {} });
    const guard = guardian.check("safe_delete") as unknown as (v: unknown, c: unknown) => unknown;
    expect(() => guard(() => {}, { kind: "getter", name: "x" })).toThrow(
      /decorates methods, not a getter/,
    );
  });
});
