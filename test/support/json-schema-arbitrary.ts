/**
 * JSON Schema → fast-check arbitraries, for fuzzing the server from its OpenAPI document:
 * values a schema accepts (`validOf`), values at and just past its bounds (`boundaryOf`)
 * and values it must refuse (`invalidOf`). It reads the keywords the server's schemas use —
 * `type` (also as a list, and OpenAPI 3.0's `nullable`), `properties`, `required`, `enum`,
 * `const`, `minLength`/`maxLength`, `pattern`, `format: date-time`, `minimum`/`maximum`,
 * `items`, `minItems`/`maxItems`, `uniqueItems`, `additionalProperties`, `oneOf`/`anyOf`.
 */
import fc from "fast-check";

/** The part of JSON Schema the converter reads. */
export interface JsonSchema {
  readonly type?: string | readonly string[];
  readonly nullable?: boolean;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | JsonSchema;
  readonly enum?: readonly unknown[];
  readonly const?: unknown;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  readonly format?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly items?: JsonSchema;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly uniqueItems?: boolean;
  readonly oneOf?: readonly JsonSchema[];
  readonly anyOf?: readonly JsonSchema[];
}

/**
 * Values to mix into what is generated for a property of this name (ids that exist, a
 * context with the fields policies read), so valid requests reach past "not found".
 */
export type Hints = Readonly<Record<string, fc.Arbitrary<unknown>>>;

const TYPES = ["string", "number", "integer", "boolean", "object", "array", "null"] as const;

/** The types a schema admits (every type when it names none). */
export function typesOf(schema: JsonSchema): string[] {
  const t = schema.type;
  const list: string[] = t === undefined ? [...TYPES] : typeof t === "string" ? [t] : [...t];
  if (schema.nullable === true && !list.includes("null")) list.push("null");
  return list;
}

/** Strings that have broken parsers, loggers and SQL before. */
const NASTY_STRINGS = [
  "",
  " ",
  "\u0000",
  "\n\r\t",
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "hasOwnProperty",
  "'; DROP TABLE hexarch_decisions; --",
  '"',
  "\\",
  "%s%n%x",
  "$" + "{process.exit()}",
  "{{7*7}}",
  "../../../etc/passwd",
  "%00",
  "%zz",
  "null",
  "undefined",
  "NaN",
  "-0",
  "1e400",
  "\u202e\u202d",
  "\ufeff",
  "\ud800",
  "\udfff\ud800",
  "👩‍👩‍👧‍👦🏳️‍🌈",
  "Ω≈ç√∫˜µ≤≥÷",
  "ﷺ",
  "\u0301\u0301\u0301",
  "a".repeat(10_000),
];

/**
 * Characters that storage, hashing and logging get wrong: NUL and other controls, lone
 * surrogates (valid in a JS string and in escaped JSON, not in UTF-8), direction marks,
 * combining marks, astral characters.
 */
const TRICKY_CHARS = fc.constantFrom(
  "\u0000",
  "\u0001",
  "\u001f",
  "\u007f",
  "\ud800",
  "\udbff",
  "\udc00",
  "\udfff",
  "\u202e",
  "\u0301",
  "\ufeff",
  "\ufffd",
  "\u2028",
  "é",
  "😀",
  "a",
);

/** Text of tricky characters (see {@link TRICKY_CHARS}), counted in UTF-16 code units. */
const trickyString = (minLength: number, maxLength: number) =>
  fc.string({ unit: TRICKY_CHARS, minLength, maxLength });

/** Any text: ASCII, every code point, tricky characters and the nasty list. */
export const anyString = (maxLength = 40): fc.Arbitrary<string> =>
  fc.oneof(
    { arbitrary: fc.string({ unit: "grapheme-ascii", maxLength }), weight: 3 },
    { arbitrary: fc.string({ unit: "binary", maxLength }), weight: 2 },
    { arbitrary: trickyString(0, Math.min(maxLength, 12)), weight: 1 },
    { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 1 },
  );

/** Object keys, with the ones that pollute prototypes. */
const anyKey = fc.oneof(
  { arbitrary: fc.string({ unit: "grapheme-ascii", maxLength: 12 }), weight: 4 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 8 }), weight: 1 },
  {
    arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "", "toString", "a.b"),
    weight: 1,
  },
);

/** Any JSON value, nested a little. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constantFrom(0, -1, 2 ** 53, -(2 ** 53), 1e308, -1e308, 5e-324, 0.1),
    anyString(),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(anyKey, tie("value"), { maxKeys: 4 }),
  ),
})).value;

/** A JSON object of any keys. */
const anyObject = fc.dictionary(anyKey, anyJson, { maxKeys: 6 });

function anyOfType(type: string): fc.Arbitrary<unknown> {
  switch (type) {
    case "string":
      return anyString();
    case "number":
      return fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer());
    case "integer":
      return fc.integer();
    case "boolean":
      return fc.boolean();
    case "array":
      return fc.array(anyJson, { maxLength: 4 });
    case "object":
      return anyObject;
    default:
      return fc.constant(null);
  }
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.format === "date-time")
    return fc
      .date({ min: new Date(0), max: new Date("2100-01-01"), noInvalidDate: true })
      .map((d) => d.toISOString());
  const min = schema.minLength ?? 0;
  // Long strings come from the boundary generator; valid ones stay short enough to be quick.
  const max = Math.min(schema.maxLength ?? 40, Math.max(min, 40));
  if (schema.pattern !== undefined) {
    const re = new RegExp(schema.pattern, "u");
    return fc
      .stringMatching(re)
      .filter((s) => [...s].length >= min && [...s].length <= (schema.maxLength ?? Infinity));
  }
  return fc.oneof(
    { arbitrary: fc.string({ unit: "grapheme-ascii", minLength: min, maxLength: max }), weight: 3 },
    { arbitrary: fc.string({ unit: "binary", minLength: min, maxLength: max }), weight: 2 },
    {
      // Tricky units are one code point each except the astral emoji: keep within the bounds.
      arbitrary: trickyString(min, Math.max(min, Math.min(max, 12))).filter(
        (s) => [...s].length >= min && [...s].length <= (schema.maxLength ?? Infinity),
      ),
      weight: 1,
    },
    {
      arbitrary: fc
        .constantFrom(...NASTY_STRINGS)
        .filter((s) => [...s].length >= min && [...s].length <= (schema.maxLength ?? Infinity)),
      weight: 1,
    },
  );
}

function numberOf(schema: JsonSchema, integer: boolean): fc.Arbitrary<number> {
  const min = schema.minimum ?? (integer ? Number.MIN_SAFE_INTEGER : -1e12);
  const max = schema.maximum ?? (integer ? Number.MAX_SAFE_INTEGER : 1e12);
  if (integer) return fc.integer({ min: Math.ceil(min), max: Math.floor(max) });
  return fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** An object with the schema's properties (required ones always), and extras when allowed. */
function objectOf(
  schema: JsonSchema,
  hints: Hints,
  leaf: (s: JsonSchema, name: string) => fc.Arbitrary<unknown>,
): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties ?? {};
  const names = Object.keys(properties);
  if (names.length === 0 && schema.additionalProperties !== false) return anyObject;
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const name of names) {
    const generated = leaf(properties[name] as JsonSchema, name);
    const hint = hints[name];
    model[name] = hint
      ? fc.oneof({ arbitrary: hint, weight: 2 }, { arbitrary: generated, weight: 1 })
      : generated;
  }
  const record = fc.record(model, { requiredKeys: [...(schema.required ?? [])] });
  if (schema.additionalProperties === false || schema.additionalProperties === undefined)
    return record as fc.Arbitrary<Record<string, unknown>>;
  return fc
    .tuple(record, anyObject)
    .map(([known, extra]) => ({ ...extra, ...known }) as Record<string, unknown>);
}

/** Values the schema accepts. */
export function validOf(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  if (schema.const !== undefined) return fc.constant(schema.const);
  if (schema.enum) return fc.constantFrom(...schema.enum);
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => validOf(s, hints)));
  const arbs = typesOf(schema).map((type): fc.Arbitrary<unknown> => {
    switch (type) {
      case "string":
        return stringOf(schema);
      case "integer":
      case "number":
        return numberOf(schema, type === "integer");
      case "boolean":
        return fc.boolean();
      case "null":
        return fc.constant(null);
      case "array": {
        const items = schema.items ? validOf(schema.items, hints) : anyJson;
        const constraints = {
          minLength: schema.minItems ?? 0,
          maxLength: Math.min(schema.maxItems ?? 5, 5),
        };
        return schema.uniqueItems
          ? fc.uniqueArray(items, { ...constraints, selector: (v) => JSON.stringify(v) })
          : fc.array(items, constraints);
      }
      default:
        return objectOf(schema, hints, (s) => validOf(s, hints));
    }
  });
  return arbs.length === 1 ? (arbs[0] as fc.Arbitrary<unknown>) : fc.oneof(...arbs);
}

/** Values at a bound and just past it (valid and invalid alike), per type. */
function edgesOf(schema: JsonSchema, type: string): unknown[] {
  switch (type) {
    case "string": {
      const min = schema.minLength ?? 0;
      const max = schema.maxLength;
      const edges: unknown[] = ["", "x".repeat(min), "é".repeat(Math.max(min, 1)), "\u0000"];
      if (min > 0) edges.push("x".repeat(min - 1));
      if (max !== undefined) {
        edges.push("x".repeat(max), "x".repeat(max + 1), "😀".repeat(max), "😀".repeat(max + 1));
      } else edges.push("x".repeat(100_000));
      edges.push("ü".repeat(300), "\ud800".repeat(3), "a\u0000b");
      return edges;
    }
    case "integer":
    case "number": {
      const edges: unknown[] = [
        0,
        -0,
        1,
        -1,
        2 ** 31,
        -(2 ** 31),
        2 ** 53,
        2 ** 53 + 2,
        -(2 ** 53),
      ];
      edges.push(1e308, -1e308, 5e-324, 0.5, -0.5, 1e21);
      for (const bound of [schema.minimum, schema.maximum]) {
        if (bound === undefined) continue;
        edges.push(bound, bound - 1, bound + 1, bound - 0.5, bound + 0.5);
      }
      return edges;
    }
    case "boolean":
      return [true, false];
    case "null":
      return [null];
    case "array": {
      const edges: unknown[] = [[]];
      if (schema.maxItems !== undefined) {
        const item = schema.items?.enum?.[0] ?? "x";
        edges.push(Array.from({ length: schema.maxItems }, (_, i) => `${String(item)}${i}`));
        edges.push(Array.from({ length: schema.maxItems + 1 }, () => item));
      }
      if (schema.uniqueItems) {
        const item = schema.items?.enum?.[0] ?? "x";
        edges.push([item, item]);
      }
      return edges;
    }
    default:
      return [{}];
  }
}

/**
 * Values at the schema's bounds and just past them: empty and longest strings (and one
 * character more, in one and in four bytes), 0, -0, the bounds ±1, huge numbers, empty and
 * fullest arrays — in every field at once, with required fields kept.
 */
export function boundaryOf(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum, "", `${String(schema.enum[0])} `);
  const alternatives = schema.oneOf ?? schema.anyOf;
  if (alternatives) return fc.oneof(...alternatives.map((s) => boundaryOf(s, hints)));
  const arbs = typesOf(schema).map((type): fc.Arbitrary<unknown> => {
    if (type === "object" && (schema.properties || schema.additionalProperties === false))
      return objectOf(schema, {}, (s) => boundaryOf(s, hints));
    if (type === "array" && schema.items)
      return fc.oneof(
        fc.constantFrom(...edgesOf(schema, type)),
        fc.array(boundaryOf(schema.items, hints), { maxLength: 3 }),
      );
    return fc.constantFrom(...edgesOf(schema, type));
  });
  return arbs.length === 1 ? (arbs[0] as fc.Arbitrary<unknown>) : fc.oneof(...arbs);
}

/** A value of a type the schema does not admit (or `undefined` when it admits every type). */
function wrongType(schema: JsonSchema): fc.Arbitrary<unknown> | undefined {
  const admitted = typesOf(schema);
  const others = TYPES.filter(
    (t) => !admitted.includes(t) && !(t === "integer" && admitted.includes("number")),
  ).map((t) => (t === "number" ? fc.constant(1.5) : anyOfType(t)));
  return others.length > 0 ? fc.oneof(...others) : undefined;
}

/**
 * Values the schema refuses: a wrong type, a required field left out, an unknown field,
 * a field with a bad value, a string too long or off its pattern, a number out of range,
 * an enum's near miss.
 */
export function invalidOf(schema: JsonSchema, hints: Hints = {}): fc.Arbitrary<unknown> {
  const ways: fc.Arbitrary<unknown>[] = [];
  const wrong = wrongType(schema);
  if (wrong) ways.push(wrong);
  if (schema.enum) ways.push(fc.constantFrom("", "nope", `${String(schema.enum[0])}x`, 0));
  const types = typesOf(schema);
  if (types.includes("string") && !schema.enum) {
    if (schema.maxLength !== undefined) ways.push(fc.constant("y".repeat(schema.maxLength + 1)));
    if ((schema.minLength ?? 0) > 0) ways.push(fc.constant(""));
    if (schema.pattern !== undefined) ways.push(fc.constantFrom(" ", "a b", "ä", "\n", "%2F"));
  }
  if (types.includes("integer") || types.includes("number")) {
    if (schema.minimum !== undefined) ways.push(fc.constant(schema.minimum - 1));
    if (schema.maximum !== undefined) ways.push(fc.constant(schema.maximum + 1));
    if (types.includes("integer") && !types.includes("number")) ways.push(fc.constant(0.5));
  }
  if (types.includes("array") && schema.items) {
    const bad = invalidOf(schema.items);
    ways.push(fc.tuple(validOf(schema, hints), bad).map(([ok, b]) => [...(ok as unknown[]), b]));
  }
  if (types.includes("object") && schema.properties) {
    const valid = validOf(schema, hints) as fc.Arbitrary<Record<string, unknown>>;
    const required = schema.required ?? [];
    if (required.length > 0)
      ways.push(
        fc.tuple(valid, fc.constantFrom(...required)).map(([v, k]) => {
          const copy = { ...v };
          delete copy[k];
          return copy;
        }),
      );
    if (schema.additionalProperties === false)
      ways.push(
        fc
          .tuple(valid, fc.constantFrom("policy_id", "unknown", "__proto__x", "Name", ""))
          .map(([v, k]) => ({ ...v, [k]: 1 })),
      );
    const names = Object.keys(schema.properties);
    if (names.length > 0)
      ways.push(
        fc
          .constantFrom(...names)
          .chain((k) =>
            fc
              .tuple(valid, invalidOf(schema.properties?.[k] as JsonSchema))
              .map(([v, bad]) => ({ ...v, [k]: bad })),
          ),
      );
  }
  return ways.length > 0 ? fc.oneof(...ways) : anyJson;
}
