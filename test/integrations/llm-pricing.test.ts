import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { BUILT_IN_PRICING, UnpricedModelError } from "../../src/integrations/ai-sdk/index.ts";
// Internal: the token estimator behind the LLM guards.
import {
  estimateTokens,
  FILE_MIN_TOKENS,
  IMAGE_TOKENS,
} from "../../src/integrations/llm/estimate.ts";
// Internal: the pricing table behind the LLM guards.
import { costOfUsage, mergePricing, Pricing } from "../../src/integrations/llm/pricing.ts";

describe("the built-in pricing table", () => {
  it("is dated and sourced per provider, and prices every model's input and output", () => {
    for (const provider of ["openai", "anthropic"]) {
      const rules = BUILT_IN_PRICING[provider];
      expect(rules?.source).toMatch(/^https:\/\//);
      expect(rules?.checkedOn).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      const models = Object.entries(rules?.models ?? {});
      expect(models.length).toBeGreaterThan(10);
      for (const [, price] of models) {
        expect(price.inputUsdPerMTok).toBeGreaterThan(0);
        expect(price.outputUsdPerMTok).toBeGreaterThanOrEqual(price.inputUsdPerMTok);
        if (price.cachedInputUsdPerMTok !== undefined)
          expect(price.cachedInputUsdPerMTok).toBeLessThan(price.inputUsdPerMTok);
      }
    }
  });
});

describe("Pricing.lookup", () => {
  const pricing = new Pricing({
    openai: { models: { "ft:gpt-6-luna:acme": { inputUsdPerMTok: 0.3, outputUsdPerMTok: 1.2 } } },
    mistral: { default: { inputUsdPerMTok: 2, outputUsdPerMTok: 6 } },
  });

  it("matches exact ids, dated snapshots, user additions and provider defaults", () => {
    expect(pricing.lookup("openai", "gpt-6.2-sol").modelKey).toBe("gpt-6.2-sol");
    expect(pricing.lookup("openai", "gpt-4o-2024-08-06").modelKey).toBe("gpt-4o");
    expect(pricing.lookup("anthropic", "claude-sonnet-4-5-20250929").modelKey).toBe(
      "claude-sonnet-4-5",
    );
    expect(pricing.lookup("anthropic", "claude-3-5-haiku-latest").modelKey).toBe(
      "claude-3-5-haiku",
    );
    expect(pricing.lookup("openai", "ft:gpt-6-luna:acme").price.inputUsdPerMTok).toBe(0.3);
    // The built-in models are still there next to the additions.
    expect(pricing.lookup("openai", "gpt-6-luna").price.inputUsdPerMTok).toBe(0.1);
    expect(pricing.lookup("mistral", "mistral-large").modelKey).toBe("default");
  });

  it("refuses to price an unknown model as free", () => {
    expect(() => pricing.lookup("openai", "gpt-9")).toThrow(UnpricedModelError);
    expect(() => pricing.lookup("google", "gemini-4")).toThrow(
      /no price for google model 'gemini-4'/,
    );
  });

  it("rejects a table with a mistyped key instead of ignoring it", () => {
    expect(
      () =>
        new Pricing({
          openai: { models: { x: { inputUsdPerMTok: 1, outputUsdPerMtok: 2 } } },
        } as never),
    ).toThrow(/invalid pricing table \(pricing option\) at openai\.models\.x/);
    expect(() => new Pricing("/nonexistent/prices.json")).toThrow(/cannot read the pricing file/);
  });

  it("merges providers: settings replaced, models added one by one", () => {
    const merged = mergePricing(BUILT_IN_PRICING, { openai: { charsPerToken: 4 } });
    expect(merged.openai?.charsPerToken).toBe(4);
    expect(merged.openai?.models?.["gpt-6-luna"]).toBeDefined();
    expect(merged.anthropic).toBe(BUILT_IN_PRICING.anthropic);
  });
});

describe("costOfUsage", () => {
  const pricing = new Pricing();

  it("prices uncached input, cache reads, cache writes and output (reasoning included)", () => {
    const sol = pricing.lookup("openai", "gpt-6.2-sol"); // 2 / 0.10 cached / 2.50 write / 5 long write / 10 out
    const usd = costOfUsage(sol, {
      inputTokens: 10_000,
      cachedInputTokens: 4_000,
      cacheWriteTokens: 1_000,
      cacheWriteLongTokens: 1_000,
      outputTokens: 2_000,
      reasoningTokens: 1_500,
    });
    expect(usd).toBeCloseTo(
      (4_000 * 2 + 4_000 * 0.1 + 1_000 * 2.5 + 1_000 * 5 + 2_000 * 10) / 1e6,
      12,
    );
  });

  it("applies long-context prices to the whole request past the threshold", () => {
    const sol = pricing.lookup("openai", "gpt-6.2-sol");
    const at = costOfUsage(sol, { inputTokens: 272_000, outputTokens: 1_000 });
    const past = costOfUsage(sol, { inputTokens: 272_001, outputTokens: 1_000 });
    expect(at).toBeCloseTo((272_000 * 2 + 1_000 * 10) / 1e6, 12);
    expect(past).toBeCloseTo((272_001 * 2 * 2 + 1_000 * 10 * 1.5) / 1e6, 12);
    const haiku = pricing.lookup("anthropic", "claude-haiku-5-5");
    expect(costOfUsage(haiku, { inputTokens: 100_001, outputTokens: 0 })).toBeCloseTo(
      (100_001 * 0.5) / 1e6,
      12,
    );
  });

  it("applies service tiers, fast mode and regional inference", () => {
    const luna = pricing.lookup("openai", "gpt-6-luna");
    const base = costOfUsage(luna, { inputTokens: 1_000, outputTokens: 1_000 });
    expect(
      costOfUsage(luna, { inputTokens: 1_000, outputTokens: 1_000, serviceTier: "flex" }),
    ).toBeCloseTo(base / 2, 12);
    expect(
      costOfUsage(luna, { inputTokens: 1_000, outputTokens: 1_000, serviceTier: "priority" }),
    ).toBeCloseTo(base * 2, 12);
    expect(
      costOfUsage(luna, { inputTokens: 1_000, outputTokens: 1_000, serviceTier: "default" }),
    ).toBe(base);
    const opus = pricing.lookup("anthropic", "claude-opus-5-5");
    const std = costOfUsage(opus, { inputTokens: 1_000, outputTokens: 1_000 });
    expect(costOfUsage(opus, { inputTokens: 1_000, outputTokens: 1_000, fast: true })).toBeCloseTo(
      std * 2,
      12,
    );
    expect(
      costOfUsage(opus, { inputTokens: 1_000, outputTokens: 1_000, inferenceGeo: "us" }),
    ).toBeCloseTo(std * 1.1, 12);
  });
});

describe("estimateTokens", () => {
  it("counts text over the characters-per-token ratio, more for non-Latin text", () => {
    expect(estimateTokens("a".repeat(300), 3)).toBe(100);
    const latin = estimateTokens("budget ".repeat(20), 3);
    const cjk = estimateTokens("予算".repeat(70), 3); // same length in UTF-16 units
    expect(cjk).toBeGreaterThan(latin * 2);
  });

  it("gives images a flat allowance and files one by size", () => {
    const image = {
      type: "image_url",
      image_url: { url: `data:image/png;base64,${"A".repeat(400_000)}` },
    };
    expect(estimateTokens([image], 3)).toBe(IMAGE_TOKENS);
    const small = { type: "file", file: { file_id: "file-abc" } };
    expect(estimateTokens([small], 3)).toBe(FILE_MIN_TOKENS);
    const pdf = { type: "document", source: { type: "base64", data: "A".repeat(80_000) } };
    expect(estimateTokens([pdf], 3)).toBeGreaterThanOrEqual(20_000);
    const text = { type: "document", source: { type: "text", data: "x".repeat(300) } };
    expect(estimateTokens([text], 3)).toBeLessThan(200);
    expect(
      estimateTokens({ type: "file", mediaType: "image/png", data: new Uint8Array(1e6) }, 3),
    ).toBe(IMAGE_TOKENS);
  });
});

describe("the LLM integration subpaths", () => {
  const SRC = fileURLToPath(new URL("../../src/", import.meta.url));
  /** Bare packages a module imports at runtime, following relative imports. */
  const runtimePackages = (entry: string): Set<string> => {
    const seen = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(file, "utf8");
      for (const m of text.matchAll(
        /(?:^|\n)\s*(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/g,
      )) {
        const spec = m[1] as string;
        if (spec.startsWith(".")) {
          if (spec.endsWith(".ts")) visit(resolve(dirname(file), spec));
        } else if (!spec.startsWith("node:")) {
          packages.add(
            spec.startsWith("@")
              ? spec.split("/").slice(0, 2).join("/")
              : (spec.split("/")[0] as string),
          );
        }
      }
    };
    visit(resolve(SRC, entry));
    return packages;
  };

  it("each load only their own SDK", () => {
    expect([...runtimePackages("integrations/openai/index.ts")].sort()).toEqual(["openai", "zod"]);
    expect([...runtimePackages("integrations/anthropic/index.ts")].sort()).toEqual([
      "@anthropic-ai/sdk",
      "zod",
    ]);
    // The middleware is a plain object: not even `ai` is loaded.
    expect([...runtimePackages("integrations/ai-sdk/index.ts")].sort()).toEqual(["zod"]);
  });
});
