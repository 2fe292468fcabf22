/**
 * `hexarch-ctl policy …`: list, show, validate, diff, export and test policies.
 *
 * @module
 */

import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { Document, isMap, isSeq, parseDocument, type YAMLMap } from "yaml";
import { formatIssue, PolicyFileError } from "../../kernel/errors.ts";
import { RegoTranslationError } from "../../opa/rego-syntax.ts";
import { toRego } from "../../opa/to-rego.ts";
import { diffPolicies, formatChanges } from "../../policy/diff/index.ts";
import { discoverPolicyFile, parsePolicies } from "../../policy/load.ts";
import type { PolicyRule } from "../../policy/types.ts";
import { CliError, silentExit, USAGE } from "../errors.ts";
import {
  type CliIo,
  csvLine,
  jsonText,
  type ListFormat,
  outputWidth,
  painter,
  renderTable,
} from "../output.ts";
import { displayPath, type LoadedFile, loadFile } from "../policy-file.ts";
import { testSkeleton } from "../test-skeleton.ts";
import { policyReplayCommand } from "./policy-replay.ts";
import { policyTestCommand } from "./policy-test.ts";

/** The policy's node in the file as written (comments kept), or an error naming the ids. */
function policyNode(file: LoadedFile, id: string): YAMLMap {
  const doc = parseDocument(file.text);
  const policies = doc.get("policies");
  if (isSeq(policies)) {
    for (const item of policies.items) {
      if (isMap(item) && String(item.get("id")) === id) return item;
    }
  }
  throw unknownPolicy(file, id);
}

function unknownPolicy(file: LoadedFile, id: string): CliError {
  const known = file.set.policies.map((p) => p.id);
  return new CliError(`no policy '${id}' in ${file.set.source}`, {
    hint: known.length ? `policies in the file: ${known.join(", ")}` : "the file has no policies",
  });
}

const policyFileOption = () =>
  new Option(
    "--policy-file <file>",
    "policy file (default: HEXARCH_POLICY_FILE, else hexarch.yaml found upwards)",
  );

/** Names of policy files: YAML, or JSON (which YAML reads). */
const POLICY_EXTENSIONS = /\.(ya?ml|json)$/i;

/** A `package` line first (after comments and blank lines): how every Rego module starts. */
const REGO_PACKAGE =
  /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*package[ \t]+[A-Za-z_][\w.]*[ \t]*(?:#[^\n]*)?\r?(?:\n|$)/;

/**
 * Whether a file handed to `policy validate` is a Rego module (`.rego`, or text that opens
 * with `package …`, which no policy file can): it gets one sentence saying what the command
 * checks and how to check Rego, not YAML errors about a file that was never YAML.
 */
export function looksLikeRego(path: string, text: string): boolean {
  // A byte order mark (editors on Windows write one) does not make it something else.
  return /\.rego$/i.test(path) || REGO_PACKAGE.test(text.replace(/^\uFEFF/, ""));
}

/** Reports a Rego module given to `policy validate` and ends it (exit 2: the wrong kind of file). */
function refuseRego(shown: string, format: "text" | "json", io: CliIo): never {
  const message = `${shown} is a Rego module (Open Policy Agent), not a policy file: policy validate checks hexarch.yaml files (YAML, or JSON)`;
  const hint = `check Rego with \`opa check ${shown}\`, or PUT it to a test OPA, which answers its errors by line: \`curl -X PUT --data-binary @${shown} $OPA_URL/v1/policies/<name>\` (\`hexarch-ctl policy export <id> --format rego\` writes Rego from a policy file)`;
  if (format === "json") {
    io.stdout.write(
      jsonText({
        valid: false,
        file: shown,
        kind: "rego",
        issues: [{ file: shown, line: 1, column: 1, path: "", message }],
        hint,
      }),
    );
    throw silentExit(USAGE);
  }
  throw new CliError(message, { hint, exitCode: USAGE });
}

/** Registers `policy` and its subcommands on the program. */
export function policyCommand(program: Command, io: CliIo): Command {
  const policy = program
    .command("policy")
    .description("list, show, validate, diff, export and test policies");

  policy
    .command("list")
    .description("the policies of the policy file")
    .addOption(policyFileOption())
    .addOption(
      new Option("--format <format>", "output format")
        .choices(["table", "json", "csv"])
        .default("table"),
    )
    .addHelpText(
      "after",
      "\nExamples:\n  $ hexarch-ctl policy list\n  $ hexarch-ctl policy list --policy-file ops/hexarch.yaml --format json",
    )
    .action((flags: { policyFile?: string; format: ListFormat }) => {
      const file = loadFile(flags.policyFile, io);
      const rows = file.set.policies.map((p) => ({
        id: p.id,
        enabled: p.enabled,
        rules: p.rules.length,
        actions: [...new Set(p.rules.map(actionLabel))].join(", "),
        description: p.description ?? p.name ?? null,
      }));
      if (flags.format === "json") io.stdout.write(jsonText(rows));
      else if (flags.format === "csv")
        io.stdout.write(
          csvLine(["id", "enabled", "rules", "actions", "description"]) +
            rows.map((r) => csvLine([r.id, r.enabled, r.rules, r.actions, r.description])).join(""),
        );
      else
        io.stdout.write(
          renderTable(
            rows,
            [
              { header: "ID", value: (r) => r.id, shrink: 1 },
              {
                header: "ENABLED",
                value: (r) => (r.enabled ? "yes" : "no"),
                tone: (r) => (r.enabled ? undefined : "dim"),
              },
              { header: "RULES", value: (r) => r.rules, right: true },
              { header: "ACTIONS", value: (r) => r.actions, shrink: 1 },
              { header: "DESCRIPTION", value: (r) => r.description, shrink: 1 },
            ],
            outputWidth(io.stdout, io.env),
            painter(io.stdout, io.env),
          ),
        );
    });

  policy
    .command("show")
    .description("one policy as written in the file (comments kept)")
    .argument("<id>", "policy id")
    .addOption(policyFileOption())
    .addOption(
      new Option("--format <format>", "output format").choices(["yaml", "json"]).default("yaml"),
    )
    .addHelpText("after", "\nExamples:\n  $ hexarch-ctl policy show safe_delete")
    .action((id: string, flags: { policyFile?: string; format: "yaml" | "json" }) => {
      const file = loadFile(flags.policyFile, io);
      io.stdout.write(renderPolicy(policyNode(file, id), flags.format));
    });

  policy
    .command("validate")
    .description("check a policy file; print every problem as file:line:col, exit 1 if any")
    .argument("[file]", "policy file (default: the one the library would load)")
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json"]).default("text"),
    )
    .addHelpText(
      "after",
      "\nChecks hexarch.yaml files (YAML, or JSON). A Rego module (.rego) is refused with exit 2\nand how to check it: `opa check FILE`.\n\nExamples:\n  $ hexarch-ctl policy validate\n  $ hexarch-ctl policy validate deploy/hexarch.yaml --format json",
    )
    .action((fileArg: string | undefined, flags: { format: "text" | "json" }) => {
      let path: string;
      try {
        path = discoverPolicyFile(fileArg, { cwd: io.cwd, env: io.env });
      } catch (err) {
        throw new CliError((err as Error).message.split("\n")[0] as string, {
          hint: "pass the file to validate, or run `hexarch-ctl init` to write a starter",
        });
      }
      const shown = displayPath(path, io);
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch (err) {
        throw new CliError(`cannot read ${shown}: ${(err as Error).message}`);
      }
      if (looksLikeRego(path, text)) refuseRego(shown, flags.format, io);
      const paint = painter(io.stdout, io.env);
      try {
        const set = parsePolicies(text, { source: shown });
        const rules = set.policies.reduce((n, p) => n + p.rules.length, 0);
        if (flags.format === "json")
          io.stdout.write(
            jsonText({
              valid: true,
              file: shown,
              policies: set.policies.length,
              rules,
              issues: [],
            }),
          );
        else
          io.stdout.write(
            `${paint("green", "valid")}: ${shown}: ${set.policies.length} ${set.policies.length === 1 ? "policy" : "policies"}, ${rules} ${rules === 1 ? "rule" : "rules"}\n`,
          );
      } catch (err) {
        if (!(err instanceof PolicyFileError)) throw err;
        const issues =
          err.issues.length > 0
            ? err.issues
            : [{ file: shown, line: 0, column: 0, path: "", message: err.message }];
        if (flags.format === "json")
          io.stdout.write(jsonText({ valid: false, file: shown, issues }));
        else {
          for (const issue of issues) io.stdout.write(`${formatIssue(issue)}\n`);
          io.stdout.write(
            `${paint("red", "invalid")}: ${issues.length} ${issues.length === 1 ? "problem" : "problems"} in ${shown}\n`,
          );
          if (!POLICY_EXTENSIONS.test(path))
            io.stderr.write(
              `note: ${shown} is not named like a policy file: policy validate checks hexarch.yaml files (YAML, or JSON)\n`,
            );
        }
        throw silentExit(1);
      }
    });

  policy
    .command("diff")
    .description("what changed in meaning between two policy files")
    .argument("<old>", "the policy file before")
    .argument("<new>", "the policy file after")
    .addOption(
      new Option("--format <format>", "output format").choices(["text", "json"]).default("text"),
    )
    .option("--exit-code", "exit 1 when anything changed (like git diff --exit-code)")
    .addHelpText(
      "after",
      `
Changes are compared by meaning, not text: a limit raised, a rule removed, an action
relaxed. Each is marked loosened (more calls get through), tightened or changed.

Examples:
  $ hexarch-ctl policy diff hexarch.yaml.orig hexarch.yaml
  $ git show main:hexarch.yaml > /tmp/old.yaml && hexarch-ctl policy diff /tmp/old.yaml hexarch.yaml
  $ hexarch-ctl policy diff old.yaml new.yaml --format json | jq '.[] | select(.effect == "loosened")'`,
    )
    .action(
      (
        oldFile: string,
        newFile: string,
        flags: { format: "text" | "json"; exitCode?: boolean },
      ) => {
        const before = loadFile(oldFile, io);
        const after = loadFile(newFile, io);
        const changes = diffPolicies(before.set, after.set);
        if (flags.format === "json") io.stdout.write(jsonText(changes));
        else {
          const paint = painter(io.stdout, io.env);
          const tone = { "(loosened)": "yellow", "(tightened)": "green" } as const;
          const report = formatChanges(changes).replace(/\((loosened|tightened)\)$/gm, (m) =>
            paint(tone[m as keyof typeof tone], m),
          );
          io.stdout.write(`${report}\n`);
        }
        if (flags.exitCode && changes.length > 0) throw silentExit(1);
      },
    );

  policyTestCommand(policy, io);
  policyReplayCommand(policy, io);

  policy
    .command("export")
    .description("one policy in another format")
    .argument("<id>", "policy id")
    .addOption(policyFileOption())
    .addOption(
      new Option("--format <format>", "output format")
        .choices(["yaml", "json", "test", "rego"])
        .default("yaml"),
    )
    .option("--output <file>", "write to a file instead of standard output")
    .addHelpText(
      "after",
      `
yaml is the policy as written, comments kept, ready to paste into another file; test is
a starter test file for \`hexarch-ctl policy test\` (cases for each rule, to review); rego
is a module for Open Policy Agent, package hexarch.<id>, deciding what needs no counters
(rate limits and budgets stay with the application).

Examples:
  $ hexarch-ctl policy export api_budget --format json
  $ hexarch-ctl policy export rate_limit --format test --output rate_limit.test.yaml
  $ hexarch-ctl policy export safe_delete --format rego --output safe_delete.rego`,
    )
    .action(
      (
        id: string,
        flags: { policyFile?: string; format: "yaml" | "json" | "test" | "rego"; output?: string },
      ) => {
        const file = loadFile(flags.policyFile, io);
        let text: string;
        if (flags.format === "test") {
          const found = file.set.policies.find((p) => p.id === id);
          if (!found) throw unknownPolicy(file, id);
          text = testSkeleton(found);
        } else if (flags.format === "rego") {
          if (!file.set.policies.some((p) => p.id === id)) throw unknownPolicy(file, id);
          try {
            text = toRego(file.set, id);
          } catch (err) {
            if (!(err instanceof RegoTranslationError)) throw err;
            throw new CliError(err.message, {
              hint: "the embedded engine still decides this policy; only the Rego export stops",
            });
          }
        } else {
          text = renderPolicy(policyNode(file, id), flags.format, true);
        }
        if (flags.output === undefined) {
          io.stdout.write(text);
          return;
        }
        const target = resolve(io.cwd, flags.output);
        try {
          writeFileSync(target, text);
        } catch (err) {
          throw new CliError(`cannot write ${target}: ${(err as Error).message}`);
        }
        io.stderr.write(`wrote policy '${id}' to ${flags.output}\n`);
      },
    );

  return policy;
}

/** A rule's action as the file would say it: `warn_at_80%` rather than its final `block`. */
function actionLabel(rule: PolicyRule): string {
  if (rule.warnAtPercent !== undefined) return `warn_at_${rule.warnAtPercent}%`;
  if (rule.limitAtPercent !== undefined) return `${rule.action}_at_${rule.limitAtPercent}%`;
  return rule.action;
}

/** A policy node as YAML (a one-policy file when `wrapped`) or as JSON. */
function renderPolicy(node: YAMLMap, format: "yaml" | "json", wrapped = false): string {
  if (format === "json") return jsonText(node.toJSON());
  const doc = new Document();
  doc.contents = wrapped ? doc.createNode({ policies: [node] }) : node;
  return doc.toString({ lineWidth: 0 });
}
