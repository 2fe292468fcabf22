import { describe, expect, it } from "vitest";
import {
  ConfirmationRequired,
  fingerprintCall,
  Guardian,
  MemoryConfirmationStore,
} from "../../src/index.ts";
import { runConfirmationStoreContract } from "../contract/confirmation-store.contract.ts";

const binding = (args: unknown[] = ["user-1"]) => ({
  policyId: "safe_delete",
  fingerprint: fingerprintCall("safe_delete", args),
});

describe("fingerprintCall", () => {
  it("depends on the policy and the argument values, not on key order", () => {
    expect(fingerprintCall("p", [{ a: 1, b: 2 }])).toBe(fingerprintCall("p", [{ b: 2, a: 1 }]));
    expect(fingerprintCall("p", ["user-1"])).not.toBe(fingerprintCall("p", ["user-2"]));
    expect(fingerprintCall("p", ["x"])).not.toBe(fingerprintCall("q", ["x"]));
    // Values that JSON would collapse stay apart.
    expect(fingerprintCall("p", [Number.NaN])).not.toBe(fingerprintCall("p", [null]));
    expect(fingerprintCall("p", [5n])).not.toBe(fingerprintCall("p", ["5n"]));
    expect(fingerprintCall("p", [undefined])).not.toBe(fingerprintCall("p", [null]));
    expect(fingerprintCall("p", [new Set(["user-1"])])).not.toBe(
      fingerprintCall("p", [new Set(["admin"])]),
    );
    expect(fingerprintCall("p", [new Set(["a", "b"])])).toBe(
      fingerprintCall("p", [new Set(["b", "a"])]),
    );
    expect(fingerprintCall("p", [new Map([["k", 1]])])).not.toBe(
      fingerprintCall("p", [new Map([["k", 2]])]),
    );
  });

  it("refuses arguments it cannot tell apart: cycles, class instances, functions", () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => fingerprintCall("p", [cyclic])).toThrow(/refer to themselves/);
    class Account {
      readonly #id = 1;
      get id() {
        return this.#id;
      }
    }
    expect(() => fingerprintCall("p", [new Account()])).toThrow(/instance of Account/);
    expect(() => fingerprintCall("p", [() => 1])).toThrow(/function/);
  });
});

runConfirmationStoreContract("MemoryConfirmationStore", async (clock) => ({
  store: new MemoryConfirmationStore({ clock }),
}));

describe("Guardian with confirmations", () => {
  const POLICIES =
    "policies: [{ id: safe_delete, rules: [{ operation: delete, action: require_confirmation }] }]";
  const setup = () => {
    const confirmations = new MemoryConfirmationStore();
    const guardian = new Guardian({ policies: POLICIES, env: {}, confirmations });
    const deleted: string[] = [];
    const deleteUser = guardian.check("safe_delete", { operation: "delete" })(
      async (id: string) => {
        deleted.push(id);
        return id;
      },
    );
    return { confirmations, guardian, deleteUser, deleted };
  };

  it("runs a call once with an approved token bound to its arguments", async () => {
    const { confirmations, guardian, deleteUser, deleted } = setup();
    const err = await deleteUser("user-1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfirmationRequired);
    const needed = (err as ConfirmationRequired).binding;
    expect(needed).toEqual(binding());
    const token = confirmations.create({
      ...(needed as NonNullable<typeof needed>),
      requestedBy: "alice",
    });
    confirmations.approve(token, { approvedBy: "bob" });

    // A token approved for user-1 does not delete user-2.
    const other = await guardian
      .withContext({ confirmationToken: token }, () => deleteUser("user-2"))
      .catch((e: unknown) => e);
    expect((other as ConfirmationRequired).reason).toContain(
      "confirmation token refused: the confirmation was issued for a call with other arguments",
    );

    await expect(
      guardian.withContext({ confirmationToken: token }, () => deleteUser("user-1")),
    ).resolves.toBe("user-1");
    const again = await guardian
      .withContext({ confirmationToken: token }, () => deleteUser("user-1"))
      .catch((e: unknown) => e);
    expect((again as ConfirmationRequired).reason).toContain("already used");
    expect(deleted).toEqual(["user-1"]);
  });

  it("lets exactly one of many concurrent calls use a token", async () => {
    const { confirmations, guardian, deleteUser, deleted } = setup();
    const token = confirmations.create(binding());
    confirmations.approve(token, { approvedBy: "bob" });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () =>
        guardian.withContext({ confirmation_token: token }, () => deleteUser("user-1")),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(deleted).toHaveLength(1);
  });

  it("checks tokens in enforce() too, bound to the context", async () => {
    const { confirmations, guardian } = setup();
    const err = await guardian
      .enforce("safe_delete", { operation: "delete", table: "users" })
      .catch((e: unknown) => e);
    const token = confirmations.create(
      (err as ConfirmationRequired).binding as NonNullable<ConfirmationRequired["binding"]>,
    );
    confirmations.approve(token, { approvedBy: "bob" });
    await expect(
      guardian.enforce("safe_delete", {
        operation: "delete",
        table: "users",
        confirmationToken: token,
      }),
    ).resolves.toMatchObject({ allowed: true });
  });

  it("checks and uses tokens in evaluate(), bound to the context (what the server's /authorize does)", async () => {
    const { confirmations, guardian } = setup();
    const ctx = { operation: "delete", table: "users" };
    const first = await guardian.evaluate("safe_delete", ctx);
    expect(first.action).toBe("require_confirmation");
    const err = await guardian.enforce("safe_delete", ctx).catch((e: unknown) => e);
    const token = confirmations.create(
      (err as ConfirmationRequired).binding as NonNullable<ConfirmationRequired["binding"]>,
    );
    confirmations.approve(token, { approvedBy: "bob" });
    const other = await guardian.evaluate("safe_delete", {
      ...ctx,
      table: "orders",
      confirmationToken: token,
    });
    expect(other.reason).toContain("issued for a call with other arguments");
    expect(
      await guardian.evaluate("safe_delete", { ...ctx, confirmationToken: token }),
    ).toMatchObject({
      allowed: true,
    });
    const again = await guardian.evaluate("safe_delete", { ...ctx, confirmationToken: token });
    expect(again).toMatchObject({ allowed: false, action: "require_confirmation" });
    expect(again.reason).toContain("already used");
  });
});
