/**
 * One signed POST of a delivery (Standard Webhooks headers), pinned to an address that was
 * checked just before, never following redirects, with a deadline on the whole exchange.
 */

import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import type { LookupFunction } from "node:net";
import { Webhook } from "standardwebhooks";
import type { ErrorInfo } from "../domain/errors.ts";

export const DEFAULT_TIMEOUT_MS = 15_000;
/** Response bodies are read (so the connection ends cleanly) up to this size, then dropped. */
const MAX_RESPONSE_BYTES = 64 * 1024;
const USER_AGENT = "journal-onboarding-webhooks/1";

export interface SendRequest {
  url: URL;
  /** The checked address to connect to (no DNS lookup happens after the check). */
  address: string;
  family: 4 | 6;
  headers: Record<string, string>;
  body: string;
  /** @default DEFAULT_TIMEOUT_MS */
  timeoutMs?: number;
}

export interface SendResult {
  /** The endpoint's status code, when it answered. */
  responseStatus?: number;
  /** `Retry-After` header, raw. */
  retryAfter?: string;
  latencyMs: number;
  /** Set for anything but a 2xx answer. */
  error?: ErrorInfo;
}

/**
 * The Standard Webhooks headers of one attempt: `webhook-signature` holds one `v1,` signature
 * per secret (two while a rotated secret is still honoured), space-separated.
 */
export function signatureHeaders(
  secrets: readonly string[],
  webhookId: string,
  timestamp: Date,
  body: string,
): Record<string, string> {
  return {
    "webhook-id": webhookId,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": secrets
      .map((secret) => new Webhook(secret).sign(webhookId, timestamp, body))
      .join(" "),
  };
}

/** POSTs once. Never throws for network or HTTP failures: they are in `error`. */
export function sendWebhook(req: SendRequest): Promise<SendResult> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  // Every connection attempt (happy eyeballs asks with `all: true`) gets the pinned address.
  const lookup = ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: req.address, family: req.family }]);
    else callback(null, req.address, req.family);
  }) as unknown as LookupFunction;
  const send = req.url.protocol === "https:" ? httpsRequest : httpRequest;

  return new Promise<SendResult>((resolve) => {
    let settled = false;
    const finish = (result: Omit<SendResult, "latencyMs">) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ...result, latencyMs: elapsed() });
    };
    const request = send(
      req.url,
      {
        method: "POST",
        lookup,
        agent: false,
        headers: {
          ...req.headers,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(req.body)),
          "user-agent": USER_AGENT,
        },
      },
      (response: IncomingMessage) => {
        const status = response.statusCode ?? 0;
        let received = 0;
        response.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) response.destroy();
        });
        const done = () => finish(resultOf(status, response.headers["retry-after"]));
        response.on("end", done);
        response.on("close", done);
        response.on("error", done);
      },
    );
    const timer = setTimeout(() => {
      finish({ error: { code: "WEBHOOK_TIMEOUT", message: `No response within ${timeoutMs} ms.` } });
      request.destroy();
    }, timeoutMs);
    request.on("error", (err: NodeJS.ErrnoException) => {
      finish({
        error: {
          code: "WEBHOOK_CONNECTION_FAILED",
          message: `The request to the endpoint failed (${err.code ?? err.message}).`,
        },
      });
    });
    request.end(req.body);
  });
}

function resultOf(status: number, retryAfter: string | undefined): Omit<SendResult, "latencyMs"> {
  const base = { responseStatus: status, ...(retryAfter !== undefined && { retryAfter }) };
  if (status >= 200 && status < 300) return base;
  const message =
    status >= 300 && status < 400
      ? `The endpoint answered HTTP ${status}; redirects are not followed, update the URL.`
      : `The endpoint answered HTTP ${status}.`;
  return { ...base, error: { code: "WEBHOOK_HTTP_ERROR", message } };
}
