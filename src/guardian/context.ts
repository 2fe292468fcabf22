/**
 * The context of one guarded call, built from the check's options, the `withContext`
 * scope and the call's first argument.
 *
 * @module
 */

import type { Context } from "../kernel/context.ts";
import { isPlainObject } from "../util/values.ts";
import type { CheckOptions } from "./options.ts";

/**
 * Builds a call's context: the check's options, then the `withContext` scope, then — when
 * neither named a user — the first argument's `userId`/`user_id` if it is a plain object.
 * Allocates nothing when every option is static and no scope is active.
 */
export function contextBuilder(
  options: CheckOptions,
  functionName: string | undefined,
): (args: unknown[], scoped: Context | undefined) => Context {
  const dynamic = <T>(v: T | ((...a: never[]) => T) | undefined) =>
    typeof v === "function" ? (v as (...a: unknown[]) => T) : undefined;
  const contextFn = dynamic(options.context);
  const costFn = dynamic(options.cost);
  const tokensFn = dynamic(options.tokens);
  const userFn = dynamic(options.userId);
  const base: Record<string, unknown> = {
    ...(typeof options.context === "object" && options.context),
    ...(options.resource !== undefined && { resource: options.resource }),
    ...(options.operation !== undefined && { operation: options.operation }),
    ...(typeof options.cost === "number" && { cost: options.cost }),
    ...(typeof options.tokens === "number" && { tokens: options.tokens }),
    ...(typeof options.userId === "string" && { userId: options.userId }),
    ...(options.metadata !== undefined && { metadata: options.metadata }),
    ...(functionName !== undefined && { functionName }),
  };
  Object.freeze(base);
  const baseEntries = Object.entries(base);
  const hasDynamic = contextFn || costFn || tokensFn || userFn;
  return (args, scoped) => {
    let ctx: Record<string, unknown> | Context = base;
    if (hasDynamic) {
      // One-source spread (V8 clones the object's shape), then the static options under it.
      const computed = contextFn?.(...args) as Context | undefined;
      const extra: Record<string, unknown> = computed ? { ...computed } : { ...base };
      if (computed) {
        for (const [k, v] of baseEntries) if (!(k in extra)) extra[k] = v;
      }
      if (costFn) extra.cost = costFn(...args);
      if (tokensFn) extra.tokens = tokensFn(...args);
      if (userFn) {
        const u = userFn(...args);
        if (u !== undefined) extra.userId = u;
      }
      ctx = extra;
    }
    if (scoped) ctx = { ...ctx, ...scoped };
    if (ctx.userId === undefined && ctx.user_id === undefined) {
      const first = args[0];
      if (isPlainObject(first)) {
        const id = first.userId ?? first.user_id;
        if (typeof id === "string" || typeof id === "number") ctx = { ...ctx, userId: String(id) };
      }
    }
    return ctx;
  };
}
