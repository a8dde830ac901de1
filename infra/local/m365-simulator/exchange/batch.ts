/**
 * `POST /adminapi/{beta|v1.0}/{tenantId}/$batch`: several InvokeCommand requests in one. Body
 * `{"requests": [{"id", "method": "POST", "url": ".../InvokeCommand", "headers", "body":
 * {"CmdletInput": ...}}]}`; answer `{"responses": [{"id", "status", "headers", "body"}]}`, each
 * body what InvokeCommand would have answered (`value`, or `error`). Sources:
 * KelvinTegelaar/CIPP-API Modules/CIPPCore/Public/GraphHelper/New-ExoBulkRequest.ps1 (up to 10
 * cmdlets per request, reads `responses[].body.value` and `responses[].body.error.details`); the
 * status per response and the limit of 10 as a refusal are assumed.
 *
 * Each inner request is served by this simulator's own InvokeCommand (over loopback, with the
 * batch's token), one after the other, so that every behaviour of a single call applies to it.
 * That call trusts the simulator's own CA explicitly: the thread serving it (a worker, under
 * `npm start`) need not trust it, as the thread that started the simulator does.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { request as httpsRequest } from "node:https";
import { readBody, send } from "../http.ts";
import type { SimHost } from "../server.ts";
import { exchangeError } from "./invoke.ts";
import { exchangeBase } from "./regional.ts";

/** Requests per batch (CIPP sends at most 10; more is refused here, assumed). */
export const MAX_BATCH_REQUESTS = 10;

interface InnerRequest {
  id?: unknown;
  method?: unknown;
  url?: unknown;
  headers?: Record<string, unknown>;
  body?: unknown;
}

export async function handleBatch(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  version: string,
  tenantId: string,
): Promise<void> {
  const call = host.record({ tenantId, service: "exchange", operation: "$batch", write: false });
  const reply = (status: number, body: unknown) => {
    call.status = status;
    send(res, status, body);
  };
  const claims = host.identity.authenticate(req, host.endpoints.exchange);
  if (typeof claims === "string") return reply(401, { error: { code: "Unauthorized", message: claims } });
  let requests: InnerRequest[];
  try {
    const parsed = JSON.parse(await readBody(req)) as { requests?: unknown };
    if (!Array.isArray(parsed.requests)) throw new Error("no requests");
    requests = parsed.requests as InnerRequest[];
  } catch {
    return reply(
      400,
      exchangeError(
        400,
        "System.ArgumentException",
        'The batch body must be {"requests": [...]}.',
        "Ex0B7C01",
      ),
    );
  }
  if (requests.length === 0 || requests.length > MAX_BATCH_REQUESTS) {
    return reply(
      400,
      exchangeError(
        400,
        "System.ArgumentException",
        `A batch holds 1 to ${MAX_BATCH_REQUESTS} requests; this one has ${requests.length}.`,
        "Ex0B7C02",
      ),
    );
  }
  const target = `${exchangeBase(host, req)}/adminapi/${version}/${tenantId}/InvokeCommand`;
  const responses: unknown[] = [];
  for (const inner of requests) {
    const id = typeof inner.id === "string" ? inner.id : String(inner.id ?? "");
    if (
      inner.method !== "POST" ||
      typeof inner.url !== "string" ||
      !/\/InvokeCommand(\?|$)/.test(inner.url)
    ) {
      responses.push({
        id,
        status: 400,
        body: exchangeError(
          400,
          "System.ArgumentException",
          "Only POST InvokeCommand may be batched.",
          "Ex0B7C03",
        ),
      });
      continue;
    }
    const anchor = Object.entries(inner.headers ?? {}).find(
      ([k]) => k.toLowerCase() === "x-anchormailbox",
    )?.[1];
    const answer = await loopbackPost(target, host.settings.caPem, JSON.stringify(inner.body ?? {}), {
      authorization: String(req.headers.authorization ?? ""),
      "x-anchormailbox": String(anchor ?? req.headers["x-anchormailbox"] ?? ""),
      "content-type": "application/json",
    });
    const { text } = answer;
    const headers: Record<string, string> = {};
    const exceptionType = answer.headers["x-exceptiontype"];
    if (typeof exceptionType === "string") headers["x-exceptiontype"] = exceptionType;
    const retryAfter = answer.headers["retry-after"];
    if (typeof retryAfter === "string") headers["retry-after"] = retryAfter;
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      // not JSON: passed on as text
    }
    responses.push({ id, status: answer.status, headers, body });
  }
  reply(200, { responses });
}

interface LoopbackAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** POSTs `body` to this simulator's own HTTPS server, trusting its CA (`caPem`) whatever the thread trusts. */
function loopbackPost(
  url: string,
  caPem: string,
  body: string,
  headers: Record<string, string>,
): Promise<LoopbackAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      url,
      {
        method: "POST",
        ca: caPem,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
      },
    );
    request.on("error", reject);
    request.end(body);
  });
}
