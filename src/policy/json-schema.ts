/**
 * The JSON Schema of `hexarch.yaml`, generated from the zod schema.
 *
 * @module
 */

import { policyJsonSchema } from "./schema.ts";

/** The schema as the text checked in at `schema/hexarch.schema.json`. */
export function policyJsonSchemaText(): string {
  return `${JSON.stringify(policyJsonSchema(), null, 2)}\n`;
}
