/**
 * What `createServer` accepts: the rules for each option of {@link ServerOptions} and the
 * checks only the combination of options can make.
 *
 * @module
 */

import { AUDIT_HMAC_MIN_BYTES, KEY_ID_PATTERN } from "../audit/checkpoints/signing.ts";
import {
  anyOfRule,
  booleanRule,
  checkedElsewhere,
  checkOptions,
  functionRule,
  integerRule,
  methodsRule,
  objectRule,
  type RulesFor,
  required,
  secretStringRule,
  stringRule,
} from "../util/check-options.ts";
import { ServerConfigError } from "./errors.ts";
import type { ServerOptions } from "./options.ts";

/** What each option of {@link ServerOptions} takes (the rest is checked below). */
const SERVER_OPTION_RULES = {
  guardian: required(methodsRule("Guardian", ["evaluate", "listPolicies"])),
  auditLogger: methodsRule("DecisionLogger", ["record"]),
  confirmations: methodsRule("ConfirmationStore", ["create", "approve", "deny", "get", "consume"]),
  apiToken: secretStringRule(),
  allowAnon: booleanRule,
  corsOrigins: {
    expected: "a list of origin strings",
    test: (v) => Array.isArray(v) && v.every((o) => typeof o === "string"),
  },
  bodyLimitBytes: integerRule(1),
  healthTimeoutMs: integerRule(1),
  rateLimit: anyOfRule("false or { max, maxPerIp, windowMs }", [
    { expected: "false", test: (v) => v === false },
    objectRule(),
  ]),
  version: stringRule(),
  logger: anyOfRule("false or logger options", [
    { expected: "false", test: (v) => v === false },
    objectRule(),
  ]),
  docs: booleanRule,
  reloadPolicies: functionRule("a function returning a Guardian"),
  apiKeyAdmin: booleanRule,
  ui: booleanRule,
  // Checked where they are used (trustProxy, checkpoints below), or by their own types.
  trustProxy: checkedElsewhere,
  metrics: checkedElsewhere,
  state: checkedElsewhere,
  apiPolicies: checkedElsewhere,
  apiKeys: checkedElsewhere,
  auditCheckpoints: checkedElsewhere,
  events: methodsRule("EventHub", [
    "subscribe",
    "admits",
    "publish",
    "decision",
    "confirmation",
    "close",
  ]),
  budgetsCacheMs: integerRule(0),
} satisfies RulesFor<ServerOptions>;

/**
 * Checks `createServer`'s options before anything is built: each option's type, then what
 * only the combination can tell (a token or `allowAnon`, key administration's needs, the
 * checkpoint key).
 *
 * @throws InvalidOptionError for an option of the wrong type; ServerConfigError for a
 *   combination the server cannot run with.
 */
export function checkServerOptions(options: ServerOptions): void {
  checkOptions("createServer", options, SERVER_OPTION_RULES);
  const token = options.apiToken;
  if (token !== undefined && (token.trim() === "" || token.trim() !== token)) {
    throw new ServerConfigError(
      "the API token must not be empty or start or end with spaces (check HEXARCH_API_TOKEN)",
    );
  }
  if (token === undefined && options.allowAnon !== true) {
    throw new ServerConfigError(
      "no API token is configured: give one (HEXARCH_API_TOKEN, --api-token) or allow anonymous access explicitly (--allow-anon)",
    );
  }
  if (options.apiKeyAdmin === true && (options.apiKeys === undefined || token === undefined)) {
    throw new ServerConfigError(
      "API key administration needs an API key store and the static API token (HEXARCH_API_TOKEN)",
    );
  }
  const checkpoints = options.auditCheckpoints;
  if (checkpoints !== undefined) {
    const bytes = typeof checkpoints.key === "string" ? Buffer.byteLength(checkpoints.key) : 0;
    if (bytes < AUDIT_HMAC_MIN_BYTES)
      throw new ServerConfigError(
        `HEXARCH_AUDIT_HMAC_KEY must be at least ${AUDIT_HMAC_MIN_BYTES} bytes, got ${bytes}: make one with 'openssl rand -hex 32'`,
      );
    if (checkpoints.keyId !== undefined && !KEY_ID_PATTERN.test(checkpoints.keyId))
      throw new ServerConfigError(
        "HEXARCH_AUDIT_HMAC_KEY_ID must be 1 to 64 letters, digits or ._:-",
      );
    if (options.auditLogger === undefined)
      throw new ServerConfigError("audit checkpoints need an audit log (auditLogger)");
  }
  const positive = (value: number | undefined, name: string) => {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new ServerConfigError(`${name} must be a positive whole number, got ${value}`);
  };
  if (options.rateLimit) {
    positive(options.rateLimit.max, "rateLimit.max");
    positive(options.rateLimit.maxPerIp, "rateLimit.maxPerIp");
    positive(options.rateLimit.windowMs, "rateLimit.windowMs");
  }
}
