/**
 * Constructors check their options when they are built: a wrong type, a value out of
 * range or a mistyped key throws an InvalidOptionError naming the component, the option,
 * what was given (strings quoted as given) and what is expected — never a TypeError on the
 * first call.
 */

import { describe, expect, it } from "vitest";
import { DecisionLogger, NullAuditStore, SqliteAuditStore } from "../../src/audit/index.ts";
import {
  ConfirmationWorkflow,
  Guardian,
  GuardrailError,
  HttpConfirmationGateway,
  InvalidOptionError,
  LocalDecisionClient,
  MemoryConfirmationStore,
  MemoryStateStore,
  RemoteDecisionClient,
  SignedConfirmationStore,
} from "../../src/index.ts";
import { OpaDecisionClient } from "../../src/opa/index.ts";
import { RedisStateStore } from "../../src/redis/index.ts";
import { createServer } from "../../src/server/index.ts";

const POLICIES =
  "policies:\n  - id: p\n    rules:\n      - { requests_per_minute: 5, action: block }\n";

/** The error `build` throws (failing the test when it throws nothing). */
function thrownBy(build: () => unknown): InvalidOptionError {
  try {
    build();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidOptionError);
    return err as InvalidOptionError;
  }
  throw new Error("expected the constructor to throw");
}

describe("new Guardian checks its options", () => {
  it("says which option is wrong, what was given and what is expected (the issue's three)", () => {
    const file = thrownBy(() => new Guardian({ policyFile: 42 as never }));
    expect(file.message).toBe("Guardian: policyFile must be a path string, got 42");
    expect(file).toBeInstanceOf(GuardrailError);
    expect(file).toMatchObject({ code: "invalid_option", option: "policyFile", owner: "Guardian" });

    const state = thrownBy(() => new Guardian({ policies: POLICIES, state: {} as never }));
    expect(state.message).toBe(
      "Guardian: state must be a StateStore (an object with consume and adjust methods), got an object without them",
    );
    expect(state.option).toBe("state");

    const timeout = thrownBy(() => new Guardian({ policies: POLICIES, timeoutMs: "100" as never }));
    expect(timeout.message).toBe(
      'Guardian: timeoutMs must be a positive number of milliseconds (or Infinity), got "100"',
    );
  });

  it("names the methods a half-implemented store lacks", () => {
    const consumeOnly = { consume: () => ({ admitted: true, totals: [], refusedIndex: -1 }) };
    expect(
      thrownBy(() => new Guardian({ policies: POLICIES, state: consumeOnly as never })).message,
    ).toMatch(/got an object without adjust$/);
    expect(
      thrownBy(() => new Guardian({ policies: POLICIES, confirmations: { consume() {} } as never }))
        .message,
    ).toBe(
      "Guardian: confirmations must be a ConfirmationStore (an object with create, approve, deny, get and consume methods), got an object without create, approve, deny and get",
    );
    expect(
      thrownBy(() => new Guardian({ policies: POLICIES, auditLogger: (() => {}) as never }))
        .message,
    ).toBe(
      "Guardian: auditLogger must be a DecisionRecorder (an object with a record method), got a function without them",
    );
  });

  it("checks each option's type and range", () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ mode: "strict" }, 'mode must be one of "enforce", "monitor" or "off", got "strict"'],
      [{ failOpen: "false" }, 'failOpen must be true or false, got "false"'],
      [{ errorStacks: 0 }, "errorStacks must be true or false, got 0"],
      [{ clock: 1_700_000_000_000 }, "clock must be a function returning the time"],
      [{ onWarn: "log" }, 'onWarn must be a function (decision, call) => void, got "log"'],
      [{ maxContextBytes: 0 }, "maxContextBytes must be a positive whole number of bytes"],
      [
        { timeoutMs: Number.NaN },
        "timeoutMs must be a positive number of milliseconds (or Infinity), got NaN",
      ],
      [
        { timeoutMs: -5 },
        "timeoutMs must be a positive number of milliseconds (or Infinity), got -5",
      ],
      [{ env: "production" }, 'env must be an object of environment variables, got "production"'],
      [
        { decisionClient: {} },
        "decisionClient must be a DecisionClient (an object with a decide method) or an object with a checkPolicy method, got an object without decide or checkPolicy",
      ],
      [{ opaUrl: "" }, 'opaUrl must be an http(s) URL string, got ""'],
      [
        { policies: 42 },
        "policies must be YAML text, a policies object or a loaded PolicySet, got 42",
      ],
    ];
    for (const [options, message] of cases) {
      const err = thrownBy(() => new Guardian({ policies: POLICIES, ...options }));
      expect(err.message, JSON.stringify(options)).toContain(`Guardian: ${message}`);
      expect(err.option).toBe(Object.keys(options)[0]);
    }
  });

  it("refuses options that are not an object", () => {
    expect(thrownBy(() => new Guardian("hexarch.yaml" as never)).message).toBe(
      'Guardian: options must be an object, got "hexarch.yaml"',
    );
    expect(thrownBy(() => new Guardian(null as never)).message).toBe(
      "Guardian: options must be an object, got null",
    );
  });

  it("catches mistyped keys with a did-you-mean, and leaves other keys alone", () => {
    for (const [typo, meant] of [
      ["policyfile", "policyFile"],
      ["policy_file", "policyFile"],
      ["PolicyFile", "policyFile"],
      ["polices", "policies"],
      ["failopen", "failOpen"],
      ["timeout", "timeoutMs"],
      ["onwarn", "onWarn"],
    ] as const) {
      const err = thrownBy(() => new Guardian({ policies: POLICIES, [typo]: "x" }));
      expect(err.message).toBe(`Guardian: "${typo}" is not an option; did you mean "${meant}"?`);
      expect(err.option).toBe(typo);
    }
    // A key that resembles no option is someone else's setting: ignored. So are short
    // words a letter or two from an option (a config spread into the options).
    const guardian = new Guardian({
      policies: POLICIES,
      env: {},
      serviceName: "billing",
      model: "gpt-4o",
      node: "eu-1",
      status: "live",
      block: true,
      lock: false,
      apiUrl: "https://api.example.com",
      policiesDir: "./policies",
      retries: 3,
    } as never);
    expect(guardian.listPolicies()).toEqual(["p"]);
    // Undefined values are "not given", whatever the key.
    expect(new Guardian({ policies: POLICIES, env: {}, timeout: undefined } as never).mode).toBe(
      "enforce",
    );
  });

  it("still takes every valid option", () => {
    const guardian = new Guardian({
      policies: POLICIES,
      env: {},
      cwd: process.cwd(),
      state: new MemoryStateStore(),
      confirmations: new MemoryConfirmationStore(),
      auditLogger: { record: () => {} },
      mode: "monitor",
      onWarn: () => {},
      onError: () => {},
      clock: () => 0,
      failOpen: true,
      errorStacks: false,
      maxContextBytes: Number.POSITIVE_INFINITY,
      timeoutMs: Number.POSITIVE_INFINITY,
    });
    expect(guardian.mode).toBe("monitor");
  });
});

describe("the other constructors check their options", () => {
  const cases: [string, () => unknown, string | RegExp][] = [
    [
      "MemoryStateStore precision",
      () => new MemoryStateStore({ precision: 0 }),
      "MemoryStateStore: precision must be an integer from 1 to 1000, got 0",
    ],
    [
      "MemoryStateStore typo",
      () => new MemoryStateStore({ precison: 20 } as never),
      'MemoryStateStore: "precison" is not an option; did you mean "precision"?',
    ],
    [
      "MemoryConfirmationStore ttlMs",
      () => new MemoryConfirmationStore({ ttlMs: "900000" as never }),
      'MemoryConfirmationStore: ttlMs must be a positive number of milliseconds, got "900000"',
    ],
    [
      "SignedConfirmationStore without keys",
      () => new SignedConfirmationStore({} as never),
      /^SignedConfirmationStore: keys must be a non-empty list of signing keys .*, got undefined$/,
    ],
    [
      "SignedConfirmationStore key without kid",
      () => new SignedConfirmationStore({ keys: [{ secret: "x".repeat(32) } as never] }),
      "SignedConfirmationStore: keys[0].kid must be a non-empty key id string, got undefined",
    ],
    [
      "LocalDecisionClient without policies",
      () => new LocalDecisionClient({} as never),
      "LocalDecisionClient: policies must be a PolicySet (from loadPolicyFile or parsePolicies), got undefined",
    ],
    [
      "RemoteDecisionClient url",
      () => new RemoteDecisionClient({ url: "ftp://decisions" }),
      'RemoteDecisionClient: url must be an http(s) URL, got "ftp://decisions"',
    ],
    [
      "OpaDecisionClient timeoutMs",
      () => new OpaDecisionClient({ url: "http://opa:8181", timeoutMs: "100" as never }),
      'OpaDecisionClient: timeoutMs must be a positive number of milliseconds (or Infinity), got "100"',
    ],
    [
      "OpaDecisionClient path",
      () => new OpaDecisionClient({ url: "http://opa:8181", path: "//" }),
      'OpaDecisionClient: path must be a package path such as "hexarch" or "guardrails/evaluate", got "//"',
    ],
    [
      "DecisionLogger closeTimeoutMs",
      () => new DecisionLogger(new NullAuditStore(), { closeTimeoutMs: -1, exitHooks: false }),
      "DecisionLogger: closeTimeoutMs must be a non-negative, finite number of milliseconds, got -1",
    ],
    [
      "DecisionLogger store",
      () => new DecisionLogger("decisions.db" as never),
      'DecisionLogger: store must be an AuditStore (an object with append and close methods), got "decisions.db"',
    ],
    [
      "ConfirmationWorkflow store",
      () => new ConfirmationWorkflow(new Guardian({ policies: POLICIES, env: {} }), {} as never),
      /^ConfirmationWorkflow: store must be a ConfirmationStore .*, got an object without them$/,
    ],
    [
      "SqliteAuditStore path",
      () => new SqliteAuditStore(42 as never),
      'SqliteAuditStore: path must be a database file path (or ":memory:"), got 42',
    ],
    [
      "RedisStateStore typo",
      () => new RedisStateStore({ url: "redis://127.0.0.1:6379", keyprefix: "app:" } as never),
      'RedisStateStore: "keyprefix" is not an option; did you mean "keyPrefix"?',
    ],
  ];
  for (const [name, build, message] of cases) {
    it(name, () => {
      const err = thrownBy(build);
      if (typeof message === "string") expect(err.message).toBe(message);
      else expect(err.message).toMatch(message);
      expect(err.code).toBe("invalid_option");
    });
  }

  it("never puts a secret in the message", () => {
    const hmac = thrownBy(
      () => new SignedConfirmationStore({ keys: [{ kid: "k1", secret: "hunter2" }] }),
    );
    expect(hmac.message).toBe(
      "SignedConfirmationStore: keys[0].secret must be at least 32 bytes (HMAC key 'k1'), got 7 bytes",
    );
    const webhook = thrownBy(
      () => new HttpConfirmationGateway({ webhookUrl: "https://approvals", secret: "hunter2" }),
    );
    expect(webhook.message).toBe(
      "HttpConfirmationGateway: secret must be a string of at least 32 bytes, got 7 bytes",
    );
    const url = thrownBy(() => new RemoteDecisionClient({ url: "ftp://bob:hunter2@decisions/" }));
    expect(url.message).toBe(
      'RemoteDecisionClient: url must be an http(s) URL, got "ftp://***:***@decisions/"',
    );
    // A bare string where a key belongs is most likely the secret; tokens ride in user
    // names and query strings too.
    const bare = thrownBy(
      () => new SignedConfirmationStore({ keys: ["hunter2".repeat(6)] as never }),
    );
    expect(bare.message).toBe(
      "SignedConfirmationStore: keys[0] must be a signing key ({ kid, secret } or { kid, alg, publicKey }), got a string of 42 characters",
    );
    const inUser = thrownBy(() => new RemoteDecisionClient({ url: "ftp://hunter2@decisions/" }));
    const inQuery = thrownBy(
      () => new RemoteDecisionClient({ url: "ftp://decisions/?api_key=hunter2" }),
    );
    expect(inQuery.message).toBe(
      'RemoteDecisionClient: url must be an http(s) URL, got "ftp://decisions/?***"',
    );
    for (const err of [hmac, webhook, url, bare, inUser, inQuery]) {
      expect(err.message).not.toContain("hunter2");
    }
  });

  it("createServer refuses a missing guardian before building anything", async () => {
    await expect(createServer({ allowAnon: true } as never)).rejects.toThrow(
      "createServer: guardian must be a Guardian (an object with evaluate and listPolicies methods), got undefined",
    );
    await expect(
      createServer({
        guardian: new Guardian({ policies: POLICIES, env: {} }),
        alowAnon: true,
      } as never),
    ).rejects.toThrow('createServer: "alowAnon" is not an option; did you mean "allowAnon"?');
  });
});
