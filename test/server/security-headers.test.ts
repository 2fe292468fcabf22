import helmet from "@fastify/helmet";
import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { Guardian } from "../../src/index.ts";
import { createServer } from "../../src/server/index.ts";
// Internal: the header set the server learns from helmet, checked on its own.
import { securityHeaders } from "../../src/server/security-headers.ts";

/** The headers a Fastify app with @fastify/helmet registered sends and one without does not. */
async function pluginHeaders(): Promise<Record<string, unknown>> {
  const answer = async (withHelmet: boolean) => {
    const app = Fastify({ logger: false });
    if (withHelmet) await app.register(helmet, { global: true });
    app.get("/", async () => ({ ok: true }));
    const res = await app.inject({ method: "GET", url: "/" });
    await app.close();
    return res.headers;
  };
  const [plain, helmeted] = [await answer(false), await answer(true)];
  return Object.fromEntries(Object.entries(helmeted).filter(([k]) => !(k in plain)));
}

describe("security headers", () => {
  it("are exactly the ones @fastify/helmet sends, on answers, errors and unknown routes", async () => {
    const expected = await pluginHeaders();
    expect(expected["content-security-policy"]).toContain("default-src 'self'");
    expect(await securityHeaders()).toEqual(expected);
    const app = await createServer({
      guardian: new Guardian({ env: {}, policies: "policies: []\n" }),
      apiToken: "security-headers-token",
      logger: false,
    });
    for (const url of ["/", "/health", "/nowhere", "/audit-logs"]) {
      const res = await app.inject({ method: "GET", url });
      for (const [name, value] of Object.entries(expected))
        expect(res.headers[name], `${url} ${name}`).toBe(value);
      expect(res.headers["x-powered-by"]).toBeUndefined();
    }
    await app.close();
  });

  it("are learned once per process", async () => {
    expect(securityHeaders()).toBe(securityHeaders());
  });
});
