/**
 * Microsoft Graph through `@microsoft/microsoft-graph-client` (v1.0) with our own middleware
 * chain: the shared retry policy and error model around the SDK's AuthenticationHandler
 * and HTTPMessageHandler.
 */
import {
  AuthenticationHandler,
  type AuthenticationProvider,
  Client,
  type Context,
  HTTPMessageHandler,
  type Middleware,
} from "@microsoft/microsoft-graph-client";
import type { OnboardingError } from "../../domain/errors.ts";
import { errorFromResponse } from "./error-model.ts";
import type { RetryPolicy } from "./retry.ts";

/**
 * Per-request slot for the named error: the SDK wraps whatever a middleware throws into a
 * GraphError, so the original travels beside it.
 */
export class GraphErrorSink {
  error: OnboardingError | undefined;
}

class RetryMiddleware implements Middleware {
  #next: Middleware | undefined;
  readonly #retry: RetryPolicy;
  readonly #tenantId: string;

  constructor(retry: RetryPolicy, tenantId: string) {
    this.#retry = retry;
    this.#tenantId = tenantId;
  }

  setNext(next: Middleware): void {
    this.#next = next;
  }

  async execute(context: Context): Promise<void> {
    const url = new URL(typeof context.request === "string" ? context.request : context.request.url);
    const operation = `${context.options?.method ?? "GET"} ${url.pathname.replace(/^.*?\/v1\.0/, "")}`;
    const sink = context.middlewareControl?.getMiddlewareOptions(GraphErrorSink) as
      | GraphErrorSink
      | undefined;
    // The AuthenticationHandler appends to the headers it is given: each attempt starts from the originals.
    const headers = context.options?.headers;
    try {
      await this.#retry.run({ service: "graph", tenantId: this.#tenantId, operation }, async (signal) => {
        context.options = { ...context.options, signal, headers: copyHeaders(headers) };
        context.response = undefined;
        await this.#next!.execute(context);
        const res = context.response as Response | undefined;
        if (!res) throw new Error("no response");
        if (!res.ok) throw errorFromResponse("graph", operation, res.status, res.headers, await res.text());
        return { value: undefined, status: res.status };
      });
    } catch (err) {
      if (sink && err instanceof Error) sink.error = err as OnboardingError;
      throw err;
    }
  }
}

function copyHeaders(headers: HeadersInit | undefined): HeadersInit | undefined {
  if (headers === undefined) return undefined;
  if (headers instanceof Headers) return new Headers(headers);
  if (Array.isArray(headers)) return headers.map(([k, v]) => [k, v] as [string, string]);
  return { ...headers };
}

export interface GraphClientOptions {
  /** e.g. `https://graph.microsoft.com`; also the token's resource. */
  endpoint: string;
  tenantId: string;
  retry: RetryPolicy;
  getToken: () => Promise<string>;
}

/** A Graph client for one tenant. */
export function createGraphClient(options: GraphClientOptions): Client {
  const endpoint = options.endpoint.replace(/\/+$/, "");
  const authProvider: AuthenticationProvider = { getAccessToken: options.getToken };
  const retry = new RetryMiddleware(options.retry, options.tenantId);
  const auth = new AuthenticationHandler(authProvider);
  const http = new HTTPMessageHandler();
  retry.setNext(auth);
  auth.setNext(http);
  return Client.initWithMiddleware({
    middleware: retry,
    baseUrl: endpoint,
    defaultVersion: "v1.0",
    // The SDK attaches tokens only to known Graph hosts: national clouds, private or simulated ones are added here.
    customHosts: new Set([new URL(endpoint).hostname]),
  });
}
