/**
 * Checks and conversions of request input that the routes' JSON schemas cannot express:
 * how deep a body may nest, and query-string values turned into the numbers and booleans
 * their schema declares.
 *
 * @module
 * @internal
 */

/** How deep a JSON body may nest (deeper bodies are refused before anything walks them). */
export const MAX_BODY_DEPTH = 32;

/** Whether a parsed JSON value nests deeper than `max` (iterative: no stack to overflow). */
export function nestsDeeper(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== "object") continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Query strings arrive as text; numbers and booleans the route's schema declares are
 * converted here, so the schemas say `integer` (for the OpenAPI document) while bodies are
 * validated without any type coercion.
 */
export function coerceQuery(query: Record<string, unknown>, schema: unknown): void {
  const properties = (schema as { properties?: Record<string, { type?: unknown }> }).properties;
  if (!properties) return;
  for (const [key, value] of Object.entries(query)) {
    if (typeof value !== "string") continue;
    const type = properties[key]?.type;
    if ((type === "integer" || type === "number") && /^-?\d+(\.\d+)?$/.test(value))
      query[key] = Number(value);
    else if (type === "boolean" && (value === "true" || value === "false"))
      query[key] = value === "true";
  }
}
