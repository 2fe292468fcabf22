/**
 * Prometheus metrics of one server (its own registry, so several servers in one process
 * never mix): requests by route and status, their latency, and decisions by policy.
 *
 * @module
 */

import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { Decision } from "../kernel/decision.ts";
import { metricsSchema } from "./schemas/index.ts";

/** What routes report to the metrics. */
export interface ServerMetrics {
  /** Counts a decision `/authorize` made. */
  decided(decision: Decision): void;
}

/** Counts nothing: the server without metrics. */
export const NO_METRICS: ServerMetrics = { decided: () => {} };

/**
 * Adds the request hooks and `GET /metrics` (behind the token unless `isPublic`).
 */
export function installMetrics(app: FastifyInstance, isPublic: boolean): ServerMetrics {
  const register = new Registry();
  collectDefaultMetrics({ register, prefix: "hexarch_server_" });
  const requests = new Counter({
    name: "hexarch_http_requests_total",
    help: "HTTP requests answered, by method, route template and status",
    labelNames: ["method", "route", "status"] as const,
    registers: [register],
  });
  const latency = new Histogram({
    name: "hexarch_http_request_duration_seconds",
    help: "Time to answer an HTTP request, by route template",
    labelNames: ["route"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [register],
  });
  const decisions = new Counter({
    name: "hexarch_decisions_total",
    help: "Decisions made by POST /authorize, by policy and outcome",
    labelNames: ["policy", "decision"] as const,
    registers: [register],
  });
  // Each label set's child, found once: prom-client otherwise hashes the labels on every
  // call. The sets are few (route templates, methods, statuses, policies and outcomes).
  const requestsBy = new Map<string, Counter.Internal>();
  const latencyBy = new Map<string, Histogram.Internal<"route">>();
  const decisionsBy = new Map<string, Counter.Internal>();
  app.addHook("onResponse", (request, reply, done) => {
    // The route's template, never the raw URL: paths carry ids and tokens.
    const route = request.is404 ? "(unmatched)" : (request.routeOptions.url ?? "(unmatched)");
    const status = reply.statusCode;
    const key = `${request.method} ${status} ${route}`;
    let counted = requestsBy.get(key);
    if (counted === undefined) {
      counted = requests.labels({ method: request.method, route, status: String(status) });
      requestsBy.set(key, counted);
    }
    counted.inc();
    let timed = latencyBy.get(route);
    if (timed === undefined) {
      timed = latency.labels({ route });
      latencyBy.set(route, timed);
    }
    timed.observe(reply.elapsedTime / 1000);
    done();
  });
  app.get(
    "/metrics",
    {
      config: { public: isPublic },
      schema: metricsSchema,
    },
    async (_request, reply) => {
      void reply.type(register.contentType);
      return register.metrics();
    },
  );
  return {
    decided: (d) => {
      const key = `${d.decision} ${d.policyId}`;
      let counted = decisionsBy.get(key);
      if (counted === undefined) {
        counted = decisions.labels({ policy: d.policyId, decision: d.decision });
        decisionsBy.set(key, counted);
      }
      counted.inc();
    },
  };
}
