/**
 * How the server fails: one JSON error shape for every status, validation messages that
 * name the field, and a handler that keeps inputs from ever causing a 5xx — a backend
 * that is down is a 503 with a clear body, never a 500.
 *
 * @module
 */

import { STATUS_CODES } from "node:http";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { defineErrorCode, GuardrailError } from "../kernel/errors.ts";

/** The server cannot start as configured (no API token without `allowAnon`, say). */
export class ServerConfigError extends GuardrailError {}
defineErrorCode(ServerConfigError, "server_config_invalid");

/** Extra fields an error answer may carry (see `errorSchema`). */
export interface ErrorExtras {
  readonly field?: string;
  readonly knownPolicies?: readonly string[];
  readonly status?: string;
  /** For `unknown_rules`: the rule ids that do not exist. */
  readonly ruleIds?: readonly string[];
  /** For `insufficient_scope`: the scope the route needs. */
  readonly requiredScope?: string;
}

/**
 * An error a route throws on purpose: its status, a stable `code` and a message for the
 * caller, plus headers to send with it.
 */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly code: string;
  readonly extras: ErrorExtras;
  readonly headers: Readonly<Record<string, string>>;

  constructor(
    statusCode: number,
    code: string,
    message: string,
    options: { extras?: ErrorExtras; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.statusCode = statusCode;
    this.code = code;
    this.extras = options.extras ?? {};
    this.headers = options.headers ?? {};
  }
}
Object.defineProperty(HttpError.prototype, "name", { value: "HttpError" });

/**
 * A backend (the audit store, the confirmation store) failed: 503, with the details in the
 * server's log rather than the answer.
 */
export function unavailable(what: string, cause: unknown): HttpError {
  return new HttpError(
    503,
    // snake_case whatever the words: "API key store" is `api_key_store_unavailable`.
    `${what.toLowerCase().replaceAll(" ", "_")}_unavailable`,
    `the ${what} is unavailable; the server log has the details`,
    { cause, headers: { "retry-after": "5" } },
  );
}

/**
 * The answers to library errors that are the caller's mistake rather than a backend's
 * failure, by the error's stable `code` (see `docs/errors.md`): the HTTP status and code.
 */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string]>> = {
  confirmation_not_found: [404, "unknown_confirmation"],
  confirmation_not_pending: [409, "not_pending"],
};

/**
 * The answer to a backend call's failure, by the error's code alone (never by asking the
 * backend again): a library error the caller caused (`confirmation_not_found`,
 * `confirmation_not_pending`) keeps its message and gets its 4xx; an `HttpError` stands; anything else (a `DecisionBackendError`, a dropped
 * connection) is a 503 naming the backend.
 */
export function backendFailure(what: string, err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const known =
    err instanceof GuardrailError && Object.hasOwn(CLIENT_ERRORS, err.code)
      ? CLIENT_ERRORS[err.code]
      : undefined;
  if (known) return new HttpError(known[0], known[1], (err as Error).message, { cause: err });
  return unavailable(what, err);
}

/** Runs a backend call, turning its failure into an answer by {@link backendFailure}. */
export async function backend<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw backendFailure(what, err);
  }
}

/** The JSON body of an error answer. */
export function errorBody(
  statusCode: number,
  code: string,
  message: string,
  requestId: string,
  extras: ErrorExtras = {},
): Record<string, unknown> {
  return {
    statusCode,
    error: STATUS_CODES[statusCode] ?? "Error",
    code,
    message,
    requestId,
    ...extras,
  };
}

/** One ajv error as Fastify reports it. */
interface ValidationIssue {
  readonly instancePath: string;
  readonly keyword: string;
  readonly params: Readonly<Record<string, unknown>>;
  readonly message?: string;
}

const PART: Readonly<Record<string, string>> = {
  body: "body",
  querystring: "query",
  params: "path",
  headers: "header",
};

/** The field an issue is about, as `body.context.user` or `query.limit`. */
function fieldOf(part: string, issue: ValidationIssue): string {
  const path = issue.instancePath
    .split("/")
    .slice(1)
    .map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
  const extra =
    issue.keyword === "required"
      ? issue.params.missingProperty
      : issue.keyword === "additionalProperties"
        ? issue.params.additionalProperty
        : undefined;
  if (typeof extra === "string") path.push(extra);
  return [PART[part] ?? part, ...path].join(".");
}

/** What is wrong with the field, in words. */
function problemOf(issue: ValidationIssue): string {
  const p = issue.params;
  switch (issue.keyword) {
    case "required":
      return "is required";
    case "additionalProperties":
      return "is not a known field";
    case "type":
      return `must be ${String(p.type).replace(",", " or ")}`;
    case "maxLength":
      return `must be at most ${p.limit} characters long`;
    case "minLength":
      return p.limit === 1 ? "must not be empty" : `must be at least ${p.limit} characters long`;
    case "maximum":
      return `must be at most ${p.limit}`;
    case "minimum":
      return `must be at least ${p.limit}`;
    case "enum":
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "pattern":
      return "has characters or a form that is not allowed";
    default:
      return issue.message ?? "is invalid";
  }
}

/** A validation failure as a 400 naming the field. */
export function validationError(part: string, issues: readonly ValidationIssue[]): HttpError {
  const first = issues[0];
  if (!first) return new HttpError(400, `invalid_${PART[part] ?? part}`, `invalid ${part}`);
  const field = fieldOf(part, first);
  return new HttpError(400, `invalid_${PART[part] ?? part}`, `${field} ${problemOf(first)}`, {
    extras: { field },
  });
}

/** Fastify's own client errors, as our codes and messages. */
function fastifyClientError(err: FastifyError, bodyLimit: number): HttpError | undefined {
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return new HttpError(400, "malformed_json", "the request body is not valid JSON");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new HttpError(
        400,
        "malformed_json",
        "the request body is empty but Content-Type says JSON: send {} or leave Content-Type out",
      );
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new HttpError(
        413,
        "body_too_large",
        `the request body is larger than ${bodyLimit} bytes`,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return new HttpError(415, "unsupported_media_type", "send the body as application/json");
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return new HttpError(400, "bad_content_length", "Content-Length does not match the body");
    case "FST_ERR_BAD_URL":
      return new HttpError(400, "bad_url", "the URL has an invalid percent-encoding");
    case "FST_ERR_MAX_PARAM_LENGTH":
      return new HttpError(414, "uri_too_long", "a path parameter is too long");
    default:
      return undefined;
  }
}

/**
 * The error handler: known errors keep their status; validation errors are 400 naming
 * the field; client errors Fastify raises keep their 4xx; anything else is a bug, logged
 * with its stack and answered 500 without details.
 */
export function errorHandler(bodyLimit: number) {
  return (err: FastifyError | HttpError, request: FastifyRequest, reply: FastifyReply): void => {
    let http: HttpError;
    if (err instanceof HttpError) http = err;
    else if (err.validation)
      http = validationError(err.validationContext ?? "body", err.validation as ValidationIssue[]);
    else {
      const known = fastifyClientError(err, bodyLimit);
      const status = err.statusCode ?? 500;
      http =
        known ??
        (status >= 400 && status < 500
          ? new HttpError(status, "bad_request", err.message)
          : new HttpError(500, "internal_error", "the server failed; the log has the details"));
    }
    if (http.statusCode >= 500) {
      request.log.error({ err: (http.cause as Error | undefined) ?? err }, http.message);
    } else {
      request.log.info({ code: http.code, statusCode: http.statusCode }, http.message);
    }
    void reply
      .code(http.statusCode)
      .headers(http.headers)
      .send(errorBody(http.statusCode, http.code, http.message, request.id, http.extras));
  };
}
