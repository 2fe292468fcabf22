/**
 * What every LLM integration subpath (`/integrations/openai`, `/anthropic`, `/ai-sdk`)
 * exports besides its own wrapper: the call and settlement types, the price table and its
 * types, and `refusalOf`.
 *
 * @module
 */

export type {
  LlmCall,
  LlmEstimate,
  LlmOutcome,
  LlmRequest,
  LlmSettlement,
} from "./guard.ts";
export {
  BUILT_IN_PRICING,
  type LongContextPrice,
  type ModelPrice,
  type PricingTable,
  type ProviderPricing,
  type TokenUsage,
  UnpricedModelError,
} from "./pricing.ts";
export { refusalOf } from "./refusal.ts";
