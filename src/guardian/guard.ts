/**
 * The value `guardian.check(policyId)` returns: one function that wraps a function and
 * also works as a standard (TC39) or legacy (`experimentalDecorators`) method decorator.
 *
 * @module
 */

import { GuardrailError } from "../kernel/errors.ts";

/**
 * Guards functions and methods with a policy.
 *
 * @example
 * ```ts
 * const safeDelete = guardian.check("safe_delete")(deleteUser);   // wrap
 *
 * class Users {
 *   @guardian.check("safe_delete")                                // decorate
 *   async delete(id: string) { ... }
 * }
 * ```
 */
export interface Guard {
  /** Wraps a function: same parameters and `this`, returns a Promise of its result. */
  <This, Args extends unknown[], R>(
    fn: (this: This, ...args: Args) => R,
  ): (this: This, ...args: Args) => Promise<Awaited<R>>;
  /** A standard (TC39) method decorator. Decorate `async` methods: the guarded method returns a Promise. */
  <This, Args extends unknown[], R>(
    method: (this: This, ...args: Args) => Promise<R>,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => Promise<R>>,
  ): (this: This, ...args: Args) => Promise<R>;
  /** A legacy (`experimentalDecorators`) method decorator, as NestJS uses. */
  <T>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>;
}

/** Wraps one function; `name` is the method name when decorating. */
export type Wrap = (
  fn: (this: unknown, ...args: unknown[]) => unknown,
  name: string | undefined,
) => (this: unknown, ...args: unknown[]) => Promise<unknown>;

/** Builds the callable that wraps or decorates. */
export function makeGuard(wrap: Wrap, policyId: string): Guard {
  function guard(a: unknown, b?: unknown, c?: unknown): unknown {
    if (typeof a === "function" && b === undefined) {
      return wrap(a as (this: unknown, ...args: unknown[]) => unknown, undefined);
    }
    if (typeof a === "function" && b !== null && typeof b === "object" && "kind" in b) {
      const kind = (b as { kind: unknown }).kind;
      if (kind !== "method") {
        throw new GuardrailError(
          `@guardian.check("${policyId}") decorates methods, not a ${String(kind)}`,
          { code: "guard_target_invalid" },
        );
      }
      const { name } = b as { name?: unknown };
      return wrap(
        a as (this: unknown, ...args: unknown[]) => unknown,
        typeof name === "symbol" ? name.description : String(name),
      );
    }
    if (
      c !== null &&
      typeof c === "object" &&
      typeof (c as PropertyDescriptor).value === "function"
    ) {
      const descriptor = c as PropertyDescriptor;
      descriptor.value = wrap(descriptor.value, typeof b === "symbol" ? b.description : String(b));
      return descriptor;
    }
    if (c !== null && typeof c === "object" && ("get" in c || "set" in c)) {
      throw new GuardrailError(
        `@guardian.check("${policyId}") decorates methods, not an accessor`,
        { code: "guard_target_invalid" },
      );
    }
    throw new GuardrailError(
      `guardian.check("${policyId}") takes the function to guard (or decorates a method); got ${typeof a}`,
      { code: "guard_target_invalid" },
    );
  }
  return guard as Guard;
}
