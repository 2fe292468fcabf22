/**
 * The commented starter policy file `hexarch-ctl init` writes, and where its first line
 * tells editors to find the JSON Schema.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { VERSION } from "../kernel/version.ts";
import { POLICY_DOCS_URL } from "../policy/docs-url.ts";

/** Where the package keeps the schema, relative to its root (package.json `files`). */
const SCHEMA_IN_PACKAGE = ["schema", "hexarch.schema.json"] as const;

/**
 * The published schema of this version. Pinned to the version that wrote the file, so an
 * editor checks against the keys this CLI accepts, not a later release's; unpkg serves
 * every file of every published npm version, so nothing extra has to be published.
 */
export const PUBLISHED_SCHEMA_URL = `https://unpkg.com/hexarch-guardrails@${VERSION}/${SCHEMA_IN_PACKAGE.join("/")}`;

/**
 * The `$schema` reference for a policy file in `dir`: the installed package's schema as a
 * path relative to `dir` when `hexarch-guardrails` is in a `node_modules` folder of `dir`
 * or a parent (the lookup Node itself makes), else {@link PUBLISHED_SCHEMA_URL}.
 *
 * yaml-language-server resolves a relative `$schema` from the YAML file's own folder, so the
 * relative path works wherever the project is checked out, offline, and follows the
 * installed version on upgrade. The path goes through `node_modules` rather than a
 * symlink's target, so a linked or workspace package does not leak a machine's layout.
 */
export function schemaReference(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, "node_modules", "hexarch-guardrails", ...SCHEMA_IN_PACKAGE);
    if (existsSync(candidate)) {
      const rel = relative(dir, candidate).split(sep).join("/");
      return rel.startsWith("../") ? rel : `./${rel}`;
    }
    if (dirname(d) === d) return PUBLISHED_SCHEMA_URL;
  }
}

/**
 * A starter `hexarch.yaml`: every policy valid, every key explained, and a first line
 * that gives editors completion and checks from the JSON Schema at `schema` (see
 * {@link schemaReference}).
 */
export function starterPolicyFile(schema: string): string {
  return `# yaml-language-server: $schema=${schema}
# hexarch.yaml: guardrails for this project, read by hexarch-guardrails.
# The line above gives editors with YAML support (VS Code's YAML extension, or any
# editor running yaml-language-server) completion, hover help and checks for this file.
# The policy language: ${POLICY_DOCS_URL}
#   (a copy ships in the package: node_modules/hexarch-guardrails/docs/policy-language.md)
# Check it with: npx hexarch-ctl policy validate
#
# Guard a function with one line:
#   const ask = guardian.check("api_budget", { resource: "openai", cost: 0.02 })(askModel);
# A refused call throws PolicyViolation before the function body runs.

policies:
  # Stop a runaway LLM bill: warn at 80% of $10 a month, block a call that would exceed it.
  - id: api_budget
    description: Protect against overspending
    rules:
      - resource: openai          # matches the call's context.resource ("*" for any)
        monthly_budget: 10        # US dollars per calendar month (daily_budget: per day)
        action: warn_at_80%       # warn from 80% of the budget on, block past it

  # Throttle each user: 100 calls a minute, counted in a sliding window.
  - id: rate_limit
    description: Prevent API abuse
    rules:
      - resource: "*"
        requests_per_minute: 100  # also requests_per_second, requests_per_hour, requests_per_day
        per: userId               # one counter per context.userId (leave out for one global counter)
        action: block

  # Destructive operations need an explicit confirmation (context.confirm: true or a token).
  - id: safe_delete
    description: Require confirmation for destructive operations
    rules:
      - operation: delete
        action: require_confirmation  # files written for Python may say requires_confirmation: true

  # Deploys on weekdays during office hours only.
  - id: business_hours
    description: Deploys only on weekdays, 09:00-17:00
    rules:
      - operation: deploy
        allowed_hours: "09:00-17:00"
        allowed_days: weekdays
        timezone: UTC             # any IANA zone, e.g. Europe/Berlin
        message: deploys happen on weekdays between 09:00 and 17:00 UTC
`;
}
