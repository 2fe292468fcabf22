/**
 * Writes schema/hexarch.schema.json (`npm run schema`): the zod schema with the editor
 * annotations of src/policy/json-schema.ts.
 * A test fails when the checked-in file is out of date.
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { policyJsonSchemaText } from "../src/policy/json-schema.ts";

const target = fileURLToPath(new URL("../schema/hexarch.schema.json", import.meta.url));
writeFileSync(target, policyJsonSchemaText());
console.log(`wrote ${target}`);
