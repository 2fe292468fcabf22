// The rules `n8n-node lint` (@n8n/node-cli) applies to a community node package: the
// @n8n/eslint-plugin-community-nodes recommended config (what n8n's verification scan runs)
// and eslint-plugin-n8n-nodes-base's community, credentials and nodes rulesets, with the
// same rules turned off. Left out: eslint-plugin-import-x, which is not installed here.
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { n8nCommunityNodesPlugin } from "@n8n/eslint-plugin-community-nodes";
import { globalIgnores } from "eslint/config";
import n8nNodesPlugin from "eslint-plugin-n8n-nodes-base";
import tseslint from "typescript-eslint";

// @eslint/js ships inside eslint; resolve it from there rather than depend on it twice.
const require = createRequire(import.meta.url);
const eslintJs = require(
  require.resolve("@eslint/js", { paths: [dirname(require.resolve("eslint/package.json"))] }),
);

const recommended = n8nCommunityNodesPlugin.configs.recommended;

export default tseslint.config(
  globalIgnores(["dist", "node_modules", "test", "scripts", "examples", "eslint.config.mjs"]),
  {
    files: ["**/*.ts"],
    extends: [eslintJs.configs.recommended, tseslint.configs.recommended, recommended],
    rules: {
      "prefer-spread": "off",
      "no-console": "error",
    },
  },
  { plugins: { "n8n-nodes-base": n8nNodesPlugin } },
  {
    files: ["package.json"],
    extends: [recommended],
    rules: { ...n8nNodesPlugin.configs.community.rules },
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { extraFileExtensions: [".json"] },
    },
  },
  {
    files: ["credentials/**/*.ts"],
    rules: {
      ...n8nNodesPlugin.configs.credentials.rules,
      // Not valid for community nodes.
      "n8n-nodes-base/cred-class-field-documentation-url-miscased": "off",
      // The community-nodes credential-password-field rule is the more accurate one.
      "n8n-nodes-base/cred-class-field-type-options-password-missing": "off",
    },
  },
  {
    files: ["nodes/**/*.ts"],
    rules: {
      ...n8nNodesPlugin.configs.nodes.rules,
      // Inputs and outputs are NodeConnectionTypes values or an expression, not the string "main".
      "n8n-nodes-base/node-class-description-inputs-wrong-regular-node": "off",
      "n8n-nodes-base/node-class-description-outputs-wrong": "off",
      "n8n-nodes-base/node-param-type-options-max-value-present": "off",
    },
  },
);
