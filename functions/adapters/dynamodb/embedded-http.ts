/**
 * The HTTP handler of the embedded dynalite's client (the local runtime): a plain keep-alive
 * `http.request` per request whose response body is collected into one Buffer. The SDK's
 * NodeHttpHandler arms four timers per request and wraps the body as a stream for the
 * deserializer to collect again; on loopback to the engine's own thread that was about a fifth
 * of each request's CPU. Never for AWS (no TLS, no proxy, no 100-continue, one timeout).
 */
import { Agent, type IncomingHttpHeaders, request } from "node:http";

/** The parts of the SDK's HttpRequest this handler reads. */
interface EmbeddedRequest {
  method: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** The SDK's HttpResponse, by shape: the body a Uint8Array, which the deserializer takes as is. */
interface EmbeddedResponse {
  statusCode: number;
  reason?: string;
  headers: Record<string, string>;
  body: Uint8Array;
}

export interface EmbeddedHttpHandlerOptions {
  /** A request (sent to its answer read) taking longer fails with a TimeoutError. @default 60000 */
  timeoutMs?: number;
  /** Sockets kept to the engine. @default 64 */
  maxSockets?: number;
}

export class EmbeddedHttpHandler {
  readonly metadata = { handlerProtocol: "http/1.1" };
  readonly #agent: Agent;
  readonly #timeoutMs: number;

  constructor(options: EmbeddedHttpHandlerOptions = {}) {
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 64 });
    this.#timeoutMs = options.timeoutMs ?? 60_000;
  }

  handle(
    httpRequest: EmbeddedRequest,
    options: { abortSignal?: unknown } = {},
  ): Promise<{ response: EmbeddedResponse }> {
    // The SDK passes an AbortSignal, or its older look-alike (only `aborted` and `onabort`).
    const abortSignal = options.abortSignal as AbortSignal | undefined;
    return new Promise((resolve, reject) => {
      if (abortSignal?.aborted) {
        reject(Object.assign(new Error("Request aborted"), { name: "AbortError" }));
        return;
      }
      const req = request(
        {
          host: httpRequest.hostname,
          port: httpRequest.port,
          method: httpRequest.method,
          path: pathWithQuery(httpRequest),
          headers: httpRequest.headers,
          agent: this.#agent,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", reject);
          res.on("end", () =>
            resolve({
              response: {
                statusCode: res.statusCode ?? -1,
                ...(res.statusMessage !== undefined && { reason: res.statusMessage }),
                headers: flatHeaders(res.headers),
                body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
              },
            }),
          );
        },
      );
      req.on("error", reject);
      req.setTimeout(this.#timeoutMs, () =>
        req.destroy(
          Object.assign(new Error("DynamoDB (embedded) did not answer in time"), { name: "TimeoutError" }),
        ),
      );
      if (abortSignal) {
        const onAbort = () =>
          req.destroy(Object.assign(new Error("Request aborted"), { name: "AbortError" }));
        if (typeof abortSignal.addEventListener === "function") {
          abortSignal.addEventListener("abort", onAbort, { once: true });
          req.once("close", () => abortSignal.removeEventListener("abort", onAbort));
        } else {
          (abortSignal as { onabort: (() => void) | null }).onabort = onAbort;
        }
      }
      const { body } = httpRequest;
      req.end(typeof body === "string" || body instanceof Uint8Array ? body : undefined);
    });
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {
    this.#agent.destroy();
  }
}

function pathWithQuery({ path, query }: EmbeddedRequest): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null) params.append(key, "");
    else for (const v of Array.isArray(value) ? value : [value]) params.append(key, v);
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** Lower-case names (as Node gives them), repeated values joined as the SDK's handler does. */
function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(",") : value;
  }
  return flat;
}
