import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // Examples import the package by name, as users do; tests run them against the source.
    alias: [
      {
        find: /^hexarch-guardrails\/audit$/,
        replacement: fileURLToPath(new URL("./src/audit/index.ts", import.meta.url)),
      },
      {
        find: /^hexarch-guardrails\/server$/,
        replacement: fileURLToPath(new URL("./src/server/index.ts", import.meta.url)),
      },
      {
        find: /^hexarch-guardrails\/opa$/,
        replacement: fileURLToPath(new URL("./src/opa/index.ts", import.meta.url)),
      },
      {
        find: /^hexarch-guardrails\/redis$/,
        replacement: fileURLToPath(new URL("./src/redis/index.ts", import.meta.url)),
      },
      {
        // hexarch-guardrails/integrations/<name> → src/integrations/<name>/index.ts
        find: /^hexarch-guardrails\/integrations\/([a-z-]+)$/,
        replacement: fileURLToPath(new URL("./src/integrations/$1/index.ts", import.meta.url)),
      },
      {
        find: /^hexarch-guardrails\/testing$/,
        replacement: fileURLToPath(new URL("./src/testing/index.ts", import.meta.url)),
      },
      {
        find: /^hexarch-guardrails$/,
        replacement: fileURLToPath(new URL("./src/index.ts", import.meta.url)),
      },
    ],
  },
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    // The console (dist/ui), built when missing or older than ui/: /ui and the browser tests use it.
    globalSetup: ["test/support/ui-build.ts"],
    typecheck: { enabled: true, include: ["test/**/*.test-d.ts"] },
    allowOnly: false,
    testTimeout: 20_000,
  },
});
