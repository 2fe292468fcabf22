/**
 * The decision context: the one currency every layer passes around (the policy language's
 * test cases, the engine, the Guardian, the decision clients, the server and the
 * integrations). It lives on the lowest floor so that none of them has to import another
 * for it.
 *
 * Imports nothing.
 *
 * @module
 */

/** A decision context: any JSON-like fields. */
export type Context = Readonly<Record<string, unknown>>;

/**
 * A context without confirmation tokens (`confirmationToken`, `confirmation_token`):
 * secrets that must not leave the process or reach a log. Returns the same object when it
 * holds none.
 */
export function withoutToken(ctx: Context): Context {
  if (ctx.confirmationToken === undefined && ctx.confirmation_token === undefined) return ctx;
  const { confirmationToken: _t, confirmation_token: _p, ...rest } = ctx;
  return rest;
}
