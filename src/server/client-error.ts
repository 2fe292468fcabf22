/**
 * Answers to requests Node's HTTP parser refuses before Fastify sees them, in the server's
 * JSON error shape.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { errorBody } from "./errors.ts";

/** What a request Node's parser refused gets: status, code and message, by parser error. */
function clientErrorOf(code: string | undefined): readonly [number, string, string] {
  switch (code) {
    case "ERR_HTTP_REQUEST_TIMEOUT":
      return [408, "request_timeout", "the request was not received in time"];
    case "HPE_HEADER_OVERFLOW":
      return [431, "headers_too_large", "the request's headers are too large"];
    case "HPE_INVALID_CONTENT_LENGTH":
    case "HPE_UNEXPECTED_CONTENT_LENGTH":
      return [400, "bad_content_length", "Content-Length must be one whole number of bytes"];
    case "HPE_INVALID_TRANSFER_ENCODING":
      return [
        400,
        "bad_transfer_encoding",
        "Transfer-Encoding must end with chunked and not come with Content-Length",
      ];
    case "HPE_INVALID_EOF_STATE":
      return [
        400,
        "bad_content_length",
        "the connection ended before the body Content-Length announced",
      ];
    default:
      return [
        400,
        "bad_request",
        "the request is not valid HTTP/1.1 (a Content-Length shorter than the body leaves bytes that are no request)",
      ];
  }
}

/**
 * Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses before Fastify sees
 * them (a non-numeric, duplicate or short `Content-Length`, a body cut off, headers too
 * large, a timeout) get the server's JSON error shape, with a request id, instead of
 * Fastify's default body; then the connection is closed, as Node does.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  // A reset or destroyed connection has no one to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  if (socket.writable) {
    const [status, code, message] = clientErrorOf(err.code);
    const requestId = randomUUID();
    const body = JSON.stringify(errorBody(status, code, message, requestId));
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? "Error"}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\n` +
        "Cache-Control: no-store\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        "Connection: close\r\n\r\n" +
        body,
    );
  }
  socket.destroy(err);
}
