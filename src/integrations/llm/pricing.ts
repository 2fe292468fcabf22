/**
 * What LLM calls cost: the dated price list (`pricing.json`), the user's overrides, model
 * lookup, and the cost of a call's token usage.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { z } from "zod";
import { defineErrorCode, GuardrailError } from "../../kernel/errors.ts";
import BUILT_IN from "./pricing.json" with { type: "json" };

/** A surcharge for long prompts: past the threshold the whole request is priced higher. */
export interface LongContextPrice {
  /** Prompts with more input tokens than this (cached and cache writes included) pay more. */
  readonly aboveInputTokens: number;
  /** Factor on every input price (uncached, cached, cache writes) of such a request. */
  readonly inputMultiplier: number;
  /** Factor on the output price of such a request. */
  readonly outputMultiplier: number;
}

/**
 * List prices of one model, in USD per million tokens.
 *
 * @example
 * ```ts
 * const price: ModelPrice = { inputUsdPerMTok: 2, cachedInputUsdPerMTok: 0.2, outputUsdPerMTok: 10 };
 * ```
 */
export interface ModelPrice {
  /** Uncached input tokens. */
  readonly inputUsdPerMTok: number;
  /** Input tokens read from the prompt cache. Default: the input price. */
  readonly cachedInputUsdPerMTok?: number;
  /** Input tokens written to the cache (Anthropic's 5-minute, OpenAI's 30-minute retention). Default: the input price. */
  readonly cacheWriteUsdPerMTok?: number;
  /** Input tokens written with long retention (Anthropic's 1 hour, OpenAI's 12 hours). Default: the cache write price. */
  readonly cacheWriteLongUsdPerMTok?: number;
  /** Output tokens, reasoning tokens included. */
  readonly outputUsdPerMTok: number;
  /** The most a response may have: the output estimate of a request that sets no limit. */
  readonly maxOutputTokens?: number;
  /** Long-prompt surcharge, when the model has one. */
  readonly longContext?: LongContextPrice;
  /** Factor for fast mode (Anthropic `speed: "fast"`). Default: the provider's. */
  readonly fastMultiplier?: number;
  /** Characters per token for the input estimate. Default: the provider's. */
  readonly charsPerToken?: number;
  /** Where this price was read, when not on the provider's pricing page. */
  readonly source?: string;
  /** Anything a reader of the price should know. */
  readonly note?: string;
}

/** One provider's prices and pricing rules. */
export interface ProviderPricing {
  /** Where the prices were read. */
  readonly source?: string;
  /** When they were last checked (YYYY-MM-DD). */
  readonly checkedOn?: string;
  /** Characters per token for the input estimate (a tokenizer-free bound). Default: 3. */
  readonly charsPerToken?: number;
  /** Factors by the response's `service_tier` (OpenAI `flex`, `priority`, ...). */
  readonly serviceTierMultipliers?: Readonly<Record<string, number>>;
  /** Factor for fast mode when the model names none. */
  readonly fastMultiplier?: number;
  /** Factors by where inference ran (Anthropic `inference_geo`). */
  readonly inferenceGeoMultipliers?: Readonly<Record<string, number>>;
  /** Prices by model id. */
  readonly models?: Readonly<Record<string, ModelPrice>>;
  /**
   * The price of any model the table does not list. Without one, an unlisted model is an
   * error: a budget that counts an unknown model as free is no budget.
   */
  readonly default?: ModelPrice;
}

/**
 * Prices by provider (`openai`, `anthropic`, or any other name an AI SDK provider reports).
 *
 * @example
 * ```ts
 * const pricing: PricingTable = {
 *   openai: { models: { "ft:gpt-6-luna:acme": { inputUsdPerMTok: 0.2, outputUsdPerMTok: 1 } } },
 *   mistral: { default: { inputUsdPerMTok: 2, outputUsdPerMTok: 6 } },
 * };
 * ```
 */
export type PricingTable = Readonly<Record<string, ProviderPricing>>;

/** A model that has no price in the table, and no default price for its provider. */
export class UnpricedModelError extends GuardrailError {
  /** The provider the model was looked up under. */
  readonly provider: string;
  /** The model id as requested. */
  readonly model: string;
  constructor(provider: string, model: string, checkedOn: string | undefined) {
    super(
      `no price for ${provider} model '${model}' in the pricing table${checkedOn ? ` (checked ${checkedOn})` : ""}: add it with the \`pricing\` option ({ ${provider}: { models: { "${model}": { inputUsdPerMTok, outputUsdPerMTok } } } }) or give ${provider} a default price; an unpriced call would count as free against the budget`,
    );
    this.provider = provider;
    this.model = model;
  }
}
defineErrorCode(UnpricedModelError, "unpriced_model");

const price = z.number().finite().nonnegative();
const modelPriceSchema = z.strictObject({
  inputUsdPerMTok: price,
  cachedInputUsdPerMTok: price.optional(),
  cacheWriteUsdPerMTok: price.optional(),
  cacheWriteLongUsdPerMTok: price.optional(),
  outputUsdPerMTok: price,
  maxOutputTokens: z.number().int().positive().optional(),
  longContext: z
    .strictObject({
      aboveInputTokens: z.number().int().nonnegative(),
      inputMultiplier: z.number().positive(),
      outputMultiplier: z.number().positive(),
    })
    .optional(),
  fastMultiplier: z.number().positive().optional(),
  charsPerToken: z.number().positive().optional(),
  source: z.string().optional(),
  note: z.string().optional(),
});
const providerSchema = z.strictObject({
  source: z.string().optional(),
  checkedOn: z.string().optional(),
  charsPerToken: z.number().positive().optional(),
  serviceTierMultipliers: z.record(z.string(), z.number().positive()).optional(),
  fastMultiplier: z.number().positive().optional(),
  inferenceGeoMultipliers: z.record(z.string(), z.number().positive()).optional(),
  models: z.record(z.string(), modelPriceSchema).optional(),
  default: modelPriceSchema.optional(),
});
// `about` is the file's comment; every other key is a provider.
const tableSchema = z.object({ about: z.string().optional() }).catchall(providerSchema);

/** Checks a pricing table (from code or a JSON file) and drops the `about` comment. */
function parseTable(value: unknown, where: string): PricingTable {
  const parsed = tableSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at = issue?.path.length ? ` at ${issue.path.join(".")}` : "";
    throw new GuardrailError(`invalid pricing table (${where})${at}: ${issue?.message ?? "?"}`, {
      code: "pricing_table_invalid",
    });
  }
  const { about: _about, ...providers } = parsed.data;
  // Validated above; zod's output marks optional fields `| undefined`, which the table never holds.
  return providers as unknown as PricingTable;
}

/** The built-in table, checked once. */
export const BUILT_IN_PRICING: PricingTable = parseTable(BUILT_IN, "built-in pricing.json");

/** `base` with `extra` laid over it: provider settings replaced, models added or replaced one by one. */
export function mergePricing(base: PricingTable, extra: PricingTable): PricingTable {
  const out: Record<string, ProviderPricing> = { ...base };
  for (const [provider, over] of Object.entries(extra)) {
    const under = base[provider];
    out[provider] = under
      ? { ...under, ...over, models: { ...under.models, ...over.models } }
      : over;
  }
  return out;
}

/** A model's price with the provider rules that apply to it. */
export interface ResolvedPrice {
  readonly provider: string;
  /** The table key the model matched (`gpt-4o` for `gpt-4o-2024-08-06`), or `default`. */
  readonly modelKey: string;
  readonly price: ModelPrice;
  readonly rules: ProviderPricing;
  /** Characters per token of the input estimate. */
  readonly charsPerToken: number;
}

// Dated snapshots: -2024-08-06 (OpenAI), -20250929 (Anthropic), and -latest aliases.
const SNAPSHOT = /-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$/;

/**
 * The table entry for `model`: the id itself, else without a dated snapshot suffix, else
 * (for gateway-style ids such as `claude-sonnet-5.5`) with its dots as dashes.
 */
function match(
  models: Readonly<Record<string, ModelPrice>> | undefined,
  model: string,
): [string, ModelPrice] | undefined {
  if (!models) return undefined;
  const base = model.replace(SNAPSHOT, "");
  for (const key of [model, base, base.replaceAll(".", "-")]) {
    const price = Object.hasOwn(models, key) ? models[key] : undefined;
    if (price) return [key, price];
  }
  return undefined;
}

/**
 * The prices in force for a guard: the built-in table, overridden or extended by the
 * `pricing` option (a table, or the path of a JSON file holding one).
 */
export class Pricing {
  readonly table: PricingTable;
  readonly #cache = new Map<string, Map<string, ResolvedPrice>>();

  /**
   * @throws GuardrailError when the file cannot be read or the table is invalid.
   */
  constructor(overrides?: PricingTable | string) {
    if (overrides === undefined) {
      this.table = BUILT_IN_PRICING;
    } else if (typeof overrides === "string") {
      let text: string;
      try {
        text = readFileSync(overrides, "utf8");
      } catch (err) {
        throw new GuardrailError(`cannot read the pricing file ${overrides}`, {
          code: "pricing_file_unreadable",
          cause: err,
        });
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw new GuardrailError(`the pricing file ${overrides} is not JSON`, {
          code: "pricing_table_invalid",
          cause: err,
        });
      }
      this.table = mergePricing(BUILT_IN_PRICING, parseTable(json, overrides));
    } else {
      this.table = mergePricing(BUILT_IN_PRICING, parseTable(overrides, "pricing option"));
    }
  }

  /**
   * The price of `model` at `provider`: an exact match, else the id without a dated
   * snapshot suffix, else with dots as dashes (`claude-sonnet-5.5`), else the provider's
   * default price.
   *
   * @throws UnpricedModelError when none applies.
   */
  lookup(provider: string, model: string): ResolvedPrice {
    let cached = this.#cache.get(provider);
    const hit = cached?.get(model);
    if (hit) return hit;
    const rules = this.table[provider];
    const models = rules?.models;
    const [modelKey, price] = match(models, model) ?? ["default", rules?.default];
    if (!rules || !price) throw new UnpricedModelError(provider, model, rules?.checkedOn);
    const resolved: ResolvedPrice = {
      provider,
      modelKey,
      price,
      rules,
      charsPerToken: price.charsPerToken ?? rules.charsPerToken ?? 3,
    };
    if (!cached) {
      cached = new Map();
      this.#cache.set(provider, cached);
    }
    // Bounded: model ids come from requests.
    if (cached.size < 1000) cached.set(model, resolved);
    return resolved;
  }
}

/**
 * Token usage of one call, in one shape for every provider. `inputTokens` counts every
 * prompt token: uncached, read from the cache and written to it.
 */
export interface TokenUsage {
  /** Every prompt token (OpenAI's `input_tokens`; Anthropic's input plus cache reads and writes). */
  readonly inputTokens: number;
  /** Prompt tokens read from the cache (part of `inputTokens`). */
  readonly cachedInputTokens?: number;
  /** Prompt tokens written to the cache with short retention (part of `inputTokens`). */
  readonly cacheWriteTokens?: number;
  /** Prompt tokens written with long retention (part of `inputTokens`). */
  readonly cacheWriteLongTokens?: number;
  /** Every generated token, reasoning included. */
  readonly outputTokens: number;
  /** Reasoning tokens (part of `outputTokens`; priced as output). */
  readonly reasoningTokens?: number;
  /** The processing tier the provider reports (`flex`, `priority`, ...). */
  readonly serviceTier?: string | null | undefined;
  /** Whether the call ran in fast mode. */
  readonly fast?: boolean;
  /** Where inference ran, when the provider prices regions differently. */
  readonly inferenceGeo?: string | null | undefined;
}

/** The cost of `usage` at `resolved` prices, in USD. */
export function costOfUsage(resolved: ResolvedPrice, usage: TokenUsage): number {
  const { price, rules } = resolved;
  const cached = usage.cachedInputTokens ?? 0;
  const writes = usage.cacheWriteTokens ?? 0;
  const writesLong = usage.cacheWriteLongTokens ?? 0;
  const uncached = Math.max(0, usage.inputTokens - cached - writes - writesLong);
  const input = price.inputUsdPerMTok;
  const write = price.cacheWriteUsdPerMTok ?? input;
  const long = price.longContext;
  const isLong = long !== undefined && usage.inputTokens > long.aboveInputTokens;
  const inputUsd =
    uncached * input +
    cached * (price.cachedInputUsdPerMTok ?? input) +
    writes * write +
    writesLong * (price.cacheWriteLongUsdPerMTok ?? write);
  const outputUsd = usage.outputTokens * price.outputUsdPerMTok;
  let usd =
    (isLong
      ? inputUsd * long.inputMultiplier + outputUsd * long.outputMultiplier
      : inputUsd + outputUsd) / 1_000_000;
  const tier = usage.serviceTier ? rules.serviceTierMultipliers?.[usage.serviceTier] : undefined;
  if (tier !== undefined) usd *= tier;
  if (usage.fast) usd *= price.fastMultiplier ?? rules.fastMultiplier ?? 1;
  const geo = usage.inferenceGeo ? rules.inferenceGeoMultipliers?.[usage.inferenceGeo] : undefined;
  if (geo !== undefined) usd *= geo;
  return usd;
}
