import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient } from "redis";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  type ConfirmationStore,
  DecisionBackendError,
  GuardrailError,
  MissingPeerDependencyError,
} from "../../src/index.ts";
// Internal: the connection layer under the Redis stores, to drive it to its deadlines.
import { hashTaggedKey, loadNodeRedis, RedisConnection } from "../../src/redis/client.ts";
import { RedisConfirmationStore, type RedisLike } from "../../src/redis/index.ts";
import { binding, runConfirmationStoreContract } from "../contract/confirmation-store.contract.ts";
import { REDIS_URL, redisReachable } from "../support/redis.ts";

const available = await redisReachable("the RedisConfirmationStore tests").catch((err: unknown) => {
  // In CI an unreachable server is a failure, reported as a test so the run says why.
  describe("Redis", () => {
    it("is reachable (CI needs it for the RedisConfirmationStore tests)", () => {
      throw err;
    });
  });
  return false;
});
if (!available && !process.env.CI) {
  describe("RedisConfirmationStore against Redis", () => {
    it.skip(`needs Redis at ${REDIS_URL}, which is not reachable`, () => {});
  });
}

/** One client for the tests' own looks into Redis (and for stores given a client). */
const admin = available ? createClient({ url: REDIS_URL }) : undefined;
if (admin) {
  admin.on("error", () => {});
  await admin.connect();
  afterAll(async () => {
    await admin.close();
  });
}

/** The admin client, for helpers that only run when Redis answers. */
const redis = () => {
  if (!admin) throw new Error("Redis is not reachable");
  return admin;
};

/** A key prefix no other test or run uses. */
const uniquePrefix = () => `hexarch-test:${randomUUID().slice(0, 8)}:confirm:`;

async function keysUnder(prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = (await redis().sendCommand([
      "SCAN",
      cursor,
      "MATCH",
      `${prefix}*`,
      "COUNT",
      "1000",
    ])) as [string, string[]];
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return keys;
}

async function dropKeys(prefix: string): Promise<void> {
  const keys = await keysUnder(prefix);
  if (keys.length) await redis().sendCommand(["UNLINK", ...keys]);
}

/** The fields of a hash as a flat list of strings, whatever shape the client answers in. */
async function hashContents(key: string): Promise<string[]> {
  const reply = (await redis().sendCommand(["HGETALL", key])) as unknown;
  return Array.isArray(reply)
    ? reply.map(String)
    : Object.entries(reply as Record<string, string>).flat();
}

const tokenKey = (prefix: string, token: string) =>
  hashTaggedKey(prefix, token.slice(0, token.indexOf(".")));

if (admin) {
  runConfirmationStoreContract("RedisConfirmationStore (client)", async (clock) => {
    const keyPrefix = uniquePrefix();
    return {
      store: new RedisConfirmationStore({ client: admin, keyPrefix, clock }),
      cleanup: () => dropKeys(keyPrefix),
    };
  });

  runConfirmationStoreContract("RedisConfirmationStore (url)", async (clock) => {
    const keyPrefix = uniquePrefix();
    const store = new RedisConfirmationStore({ url: REDIS_URL, keyPrefix, clock });
    return {
      store,
      cleanup: async () => {
        await store.close();
        await dropKeys(keyPrefix);
      },
    };
  });

  describe("RedisConfirmationStore against Redis", () => {
    const prefixes: string[] = [];
    const prefix = () => {
      const p = uniquePrefix();
      prefixes.push(p);
      return p;
    };
    afterAll(async () => {
      for (const p of prefixes) await dropKeys(p);
    });

    const lifecycle = async (store: ConfirmationStore) => {
      const token = await store.create({ ...binding(), requestedBy: "alice" });
      await store.approve(token, { approvedBy: "bob" });
      expect(await store.consume(token, binding())).toMatchObject({ ok: true });
      expect(await store.consume(token, binding())).toMatchObject({ refusal: "used" });
    };

    it("keeps each request in one hash at <prefix>{<id>}, forgotten a day after it expires", async () => {
      const keyPrefix = prefix();
      const store = new RedisConfirmationStore({ client: admin, keyPrefix, ttlMs: 60_000 });
      const token = await store.create(binding());
      const id = token.split(".")[0] as string;
      expect((await keysUnder(keyPrefix)).sort()).toEqual(
        [`${keyPrefix}{${id}}`, `${keyPrefix}{index}`].sort(),
      );
      expect(await admin.sendCommand(["TYPE", `${keyPrefix}{${id}}`])).toBe("hash");
      const ttl = Number(await admin.sendCommand(["PTTL", `${keyPrefix}{${id}}`]));
      expect(ttl).toBeGreaterThan(86_400_000 + 50_000);
      expect(ttl).toBeLessThanOrEqual(86_400_000 + 60_000);
      // Approving and consuming keep the key's lifetime.
      await store.approve(token, { approvedBy: "bob" });
      await store.consume(token, binding());
      expect(Number(await admin.sendCommand(["PTTL", `${keyPrefix}{${id}}`]))).toBeGreaterThan(
        86_400_000,
      );
    });

    it("lists from a sorted set of ids at <prefix>{index}, dropping ids Redis forgot", async () => {
      const keyPrefix = prefix();
      const store = new RedisConfirmationStore({ client: admin, keyPrefix });
      const kept = await store.create({ ...binding(), requestedBy: "alice" });
      const forgotten = await store.create({ ...binding(), requestedBy: "bob" });
      const index = `${keyPrefix}{index}`;
      expect(await admin.sendCommand(["TYPE", index])).toBe("zset");
      await admin.sendCommand(["DEL", hashTaggedKey(keyPrefix, forgotten.split(".")[0] as string)]);
      const listed = await store.list();
      expect(listed.map((r) => r.requestedBy)).toEqual(["alice"]);
      expect(await admin.sendCommand(["ZRANGE", index, "0", "-1"])).toEqual([kept.split(".")[0]]);
    });

    it("never stores the secret, only its SHA-256", async () => {
      const keyPrefix = prefix();
      const store = new RedisConfirmationStore({ client: admin, keyPrefix });
      const token = await store.create({ ...binding(), metadata: { note: "x" } });
      await store.approve(token, { approvedBy: "bob" });
      await store.consume(token, binding());
      const secret = Buffer.from(token.split(".")[1] as string, "base64url");
      const stored = [
        ...(await keysUnder(keyPrefix)),
        ...(await hashContents(tokenKey(keyPrefix, token))),
      ].join("\n");
      for (const spelling of [
        secret.toString("base64url"),
        secret.toString("base64"),
        secret.toString("hex"),
        secret.toString("latin1"),
      ]) {
        expect(stored).not.toContain(spelling);
      }
      expect(stored).toContain(createHash("sha256").update(secret).digest("hex"));
    });

    it("works with a node-redis client passed in, and leaves it open on close()", async () => {
      const store = new RedisConfirmationStore({ client: admin, keyPrefix: prefix() });
      await lifecycle(store);
      await store.close();
      expect(admin.isOpen).toBe(true);
      expect(await admin.sendCommand(["PING"])).toBe("PONG");
      await expect(store.get("x.y")).resolves.toBeUndefined();
      await expect(store.create(binding())).rejects.toThrow(/RedisConfirmationStore is closed/);
    });

    it("works with an ioredis-shaped client (call(command, ...args))", async () => {
      const calls: string[] = [];
      const ioredisLike: RedisLike = {
        call: (command: string, ...args: string[]) => {
          calls.push(command);
          return admin.sendCommand([command, ...args]);
        },
      };
      await lifecycle(new RedisConfirmationStore({ client: ioredisLike, keyPrefix: prefix() }));
      expect(calls).toContain("EVALSHA");
    });

    it("opens its own connection from { url }, reconnects it, and closes it on close()", async () => {
      const named = async () =>
        new Set(
          String(await admin.sendCommand(["CLIENT", "LIST"]))
            .split("\n")
            .filter((line) => / name=hexarch-guardrails /.test(line))
            .map((line) => /^id=(\d+)/.exec(line)?.[1]),
        );
      const before = await named();
      const store = new RedisConfirmationStore({ url: REDIS_URL, keyPrefix: prefix() });
      await lifecycle(store);
      const ours = [...(await named())].filter((id) => !before.has(id));
      expect(ours).toHaveLength(1);
      // A dropped connection is the client's to reopen: the next calls work.
      await admin.sendCommand(["CLIENT", "KILL", "ID", String(ours[0])]);
      await lifecycle(store);
      ours.splice(0, 1, ...[...(await named())].filter((id) => !before.has(id)));
      expect(ours).toHaveLength(1);
      await store.close();
      await store.close(); // twice is fine
      await expect.poll(async () => (await named()).has(ours[0])).toBe(false);
    });

    it("runs its scripts again after Redis forgot them (NOSCRIPT → EVAL)", async () => {
      const store = new RedisConfirmationStore({ client: admin, keyPrefix: prefix() });
      const token = await store.create(binding());
      await store.approve(token, { approvedBy: "bob" });
      await admin.sendCommand(["SCRIPT", "FLUSH"]);
      expect(await store.consume(token, binding())).toMatchObject({ ok: true });
    });

    it("lets exactly one of two processes use a token", async () => {
      const keyPrefix = prefix();
      const store = new RedisConfirmationStore({ client: admin, keyPrefix });
      const token = await store.create(binding());
      await store.approve(token, { approvedBy: "bob" });
      const fixture = fileURLToPath(new URL("../fixtures/redis-consume.ts", import.meta.url));
      const { policyId, fingerprint } = binding();
      const children = [0, 1].map(() =>
        spawn(process.execPath, [fixture, REDIS_URL, keyPrefix, token, policyId, fingerprint]),
      );
      try {
        const outputs = children.map((child) => lines(child));
        // Both connected and waiting: release them together.
        await Promise.all(outputs.map((o) => o.next()));
        for (const child of children) child.stdin.write("go\n");
        const results = await Promise.all(
          outputs.map(async (o) => JSON.parse(await o.next()) as Record<string, unknown>),
        );
        expect(results.filter((r) => r.ok === true)).toHaveLength(1);
        expect(results.filter((r) => r.ok === false && r.refusal === "used")).toHaveLength(1);
        expect(new Set(results.map((r) => r.pid)).size).toBe(2);
        expect((await store.get(token))?.status).toBe("consumed");
      } finally {
        for (const child of children) child.kill();
      }
    });
  });
}

/** Reads a child's stdout line by line; fails with its stderr when it exits early. */
function lines(child: ChildProcessWithoutNullStreams): { next(): Promise<string> } {
  const queue: string[] = [];
  const waiting: { resolve: (line: string) => void; reject: (err: Error) => void }[] = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  createInterface({ input: child.stdout }).on("line", (line) => {
    const w = waiting.shift();
    if (w) w.resolve(line);
    else queue.push(line);
  });
  child.on("exit", (code) => {
    for (const w of waiting.splice(0))
      w.reject(new Error(`child exited with ${code} before answering: ${stderr}`));
  });
  return {
    next: () => {
      const line = queue.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (child.exitCode !== null)
        return Promise.reject(new Error(`child exited with ${child.exitCode}: ${stderr}`));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

describe("RedisConfirmationStore without Redis", () => {
  it("fails with DecisionBackendError, not a hang, when Redis does not answer", async () => {
    const store = new RedisConfirmationStore({ url: "redis://127.0.0.1:1" });
    try {
      const started = Date.now();
      const err = await store.create(binding()).catch((e: unknown) => e);
      const took = Date.now() - started;
      expect(err).toBeInstanceOf(DecisionBackendError);
      expect((err as Error).message).toMatch(
        /^RedisConfirmationStore could not connect to Redis within 3000 ms \(last connection error: .*ECONNREFUSED/,
      );
      expect(took).toBeGreaterThanOrEqual(2900);
      expect(took).toBeLessThan(6000);
      // Every call fails the same way while Redis stays away.
      await expect(
        store.consume(`${randomUUID()}.${"A".repeat(43)}`, binding()),
      ).rejects.toBeInstanceOf(DecisionBackendError);
    } finally {
      await store.close();
    }
    await expect(store.create(binding())).rejects.toThrow(/RedisConfirmationStore is closed/);
  });

  it("times out a command its client never answers, and withdraws it", async () => {
    const signals: AbortSignal[] = [];
    const silent: RedisLike = {
      sendCommand: (_args, options) => {
        signals.push(options?.abortSignal as AbortSignal);
        return new Promise(() => {});
      },
    };
    const store = new RedisConfirmationStore({ client: silent, commandTimeoutMs: 50 });
    await expect(store.get(`${randomUUID()}.${"A".repeat(43)}`)).rejects.toThrow(
      new DecisionBackendError("Redis did not answer HMGET (confirm get) within 50 ms"),
    );
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it("withdraws commands sent together only once the last of them still waiting has timed out", async () => {
    const sent: { options: Record<string, unknown> | undefined; answer: (v: string) => void }[] =
      [];
    const manual: RedisLike = {
      sendCommand: (_args, options) =>
        new Promise<unknown>((answer) => {
          sent.push({ options, answer });
        }),
    };
    vi.useFakeTimers();
    try {
      const connection = new RedisConnection(
        { client: manual },
        { owner: "RedisStateStore", commandTimeoutMs: 60 },
      );
      const first = connection.command(["GET", "a"]).catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(5);
      const second = connection.command(["GET", "b"]);
      expect(sent).toHaveLength(2);
      // node-redis's own per-command timeout is off: the connection times every command.
      expect(sent[0]?.options?.timeout).toBe(0);
      // Sent within a few ms of each other, the two share one signal.
      const signal = sent[0]?.options?.abortSignal as AbortSignal;
      expect(sent[1]?.options?.abortSignal).toBe(signal);
      // At 60 ms the first times out; the second may still be answered: nothing withdrawn yet.
      await vi.advanceTimersByTimeAsync(54);
      expect(signal.aborted).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(await first).toBeInstanceOf(DecisionBackendError);
      expect(signal.aborted).toBe(false);
      sent[1]?.answer("b's value");
      expect(await second).toBe("b's value");
      expect(signal.aborted).toBe(false);
      // A later command that goes unanswered is withdrawn when it times out.
      await vi.advanceTimersByTimeAsync(15);
      const third = connection.command(["GET", "c"]).catch((e: unknown) => e);
      const later = sent[2]?.options?.abortSignal as AbortSignal;
      expect(later).not.toBe(signal);
      await vi.advanceTimersByTimeAsync(60);
      expect(await third).toBeInstanceOf(DecisionBackendError);
      expect(later.aborted).toBe(true);
      expect(signal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });

  it("wraps a client's failure in DecisionBackendError, keeping the cause", async () => {
    const cause = new Error("The client is closed");
    const closed: RedisLike = { sendCommand: () => Promise.reject(cause) };
    const store = new RedisConfirmationStore({ client: closed });
    const err = await store.create(binding()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecisionBackendError);
    expect(err).toMatchObject({
      message: "Redis failed on ZADD (confirm index): The client is closed",
      cause,
    });
  });

  it("answers forged tokens without asking Redis", async () => {
    const asked: string[][] = [];
    const client: RedisLike = {
      sendCommand: (args) => {
        asked.push(args);
        return Promise.resolve(null);
      },
    };
    const store = new RedisConfirmationStore({ client });
    for (const forged of ["", "x", "not-a-uuid.AAAA", `${randomUUID()}.${"A".repeat(42)}B`]) {
      expect(await store.get(forged)).toBeUndefined();
      expect(await store.consume(forged, binding())).toMatchObject({ refusal: "unknown" });
      await expect(store.approve(forged, { approvedBy: "bob" })).rejects.toThrow(
        "unknown confirmation token",
      );
    }
    expect(asked).toEqual([]);
  });

  it("says which package to install when 'redis' is missing", async () => {
    const missing = () =>
      Promise.reject(
        Object.assign(new Error("Cannot find package 'redis'"), { code: "ERR_MODULE_NOT_FOUND" }),
      );
    await expect(loadNodeRedis("RedisConfirmationStore", missing)).rejects.toThrow(
      new MissingPeerDependencyError("RedisConfirmationStore", ["redis"]),
    );
    const connection = new RedisConnection(
      { url: "redis://127.0.0.1:6379" },
      { owner: "RedisStateStore", importRedis: missing },
    );
    await expect(connection.command(["PING"])).rejects.toThrow(
      "RedisStateStore needs the 'redis' package: npm install redis",
    );
  });

  it("checks its options when built", () => {
    const bad: [unknown, RegExp][] = [
      [{}, /needs \{ client \}/],
      [undefined, /needs \{ client \} or \{ url \}/],
      [{ url: REDIS_URL, client: { call: () => null } }, /not both/],
      [{ url: "http://127.0.0.1:6379" }, /redis:\/\/ or rediss:\/\/ URL/],
      [{ url: "redis://user:hunter2@:bad:port" }, /^(?!.*hunter2)/],
      [{ client: {} }, /node-redis client \(sendCommand\) or an ioredis client \(call\)/],
      [{ url: REDIS_URL, ttlMs: 0 }, /ttlMs must be a positive number of milliseconds/],
      [{ url: REDIS_URL, commandTimeoutMs: -1 }, /commandTimeoutMs must be a positive number/],
    ];
    for (const [options, message] of bad) {
      expect(() => new RedisConfirmationStore(options as never), JSON.stringify(options)).toThrow(
        message,
      );
    }
    expect(() => hashTaggedKey("p:", "a}b")).toThrow(GuardrailError);
    expect(hashTaggedKey("p:", "id", ":x")).toBe("p:{id}:x");
  });
});
