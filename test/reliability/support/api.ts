/** A small client of the REST API over real HTTP, for a service in this process or a child one. */
import { request as httpRequest } from "node:http";

/** Parsed JSON of many shapes; the suites assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Json = any;

export interface ApiResponse {
  status: number;
  contentType: string | null;
  body: Json;
  text: string;
}

export interface ApiClient {
  readonly url: string;
  call(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  /** POST /v1/partners with the ops key. */
  createPartner(name: string): Promise<{ partnerId: string; apiKey: string }>;
  /** Every page of a list (`items`, `nextCursor`). */
  listAll(path: string, key: string): Promise<Json[]>;
  /**
   * POST /v1/tenants as the partner; a tenant not bound to it yet (`awaiting_consent`) is then
   * bound by ops (`bindTenant`), as the customer's consent through the partner's link would, so
   * that its onboarding starts. Returns the POST's answer.
   */
  onboard(partner: { partnerId: string; apiKey: string }, body: unknown): Promise<ApiResponse>;
}

export function apiClient(url: string, opsKey: string): ApiClient {
  const call: ApiClient["call"] = async (method, path, options = {}) => {
    const raw = typeof options.body === "string";
    const response = await fetch(`${url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.key ?? opsKey}`,
        ...(options.body !== undefined && !raw && { "content-type": "application/json" }),
        ...options.headers,
      },
      ...(options.body !== undefined && {
        body: raw ? (options.body as string) : JSON.stringify(options.body),
      }),
    });
    const text = await response.text();
    let body: Json;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status, contentType: response.headers.get("content-type"), body, text };
  };
  return {
    url,
    call,
    async createPartner(name) {
      const res = await call("POST", "/v1/partners", { body: { name } });
      if (res.status !== 201) throw new Error(`partner not created: ${res.status} ${res.text}`);
      return res.body;
    },
    async onboard(partner, body) {
      const res = await call("POST", "/v1/tenants", { key: partner.apiKey, body });
      if (res.status === 202 && res.body?.status === "awaiting_consent") {
        const bound = await call("POST", `/v1/tenants/${res.body.tenantId}/retry`, {
          body: { bindTenant: true, partnerId: partner.partnerId },
        });
        if (bound.status !== 202) throw new Error(`tenant not bound: ${bound.status} ${bound.text}`);
      }
      return res;
    },
    async listAll(path, key) {
      const items: Json[] = [];
      let cursor: string | undefined;
      do {
        const sep = path.includes("?") ? "&" : "?";
        const res = await call(
          "GET",
          `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
          { key },
        );
        if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.text}`);
        items.push(...res.body.items);
        cursor = res.body.nextCursor;
      } while (cursor);
      return items;
    },
  };
}

/** Polls until `done` returns a value; fails with `describe()` after `timeoutMs` (a hang, not a timing check). */
export async function waitUntil<T>(
  what: string,
  done: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number; describe?: () => Promise<string> } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const value = await done();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `gave up waiting for ${what}${options.describe ? `: ${await options.describe()}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 100));
  }
}

/**
 * One request with exactly the given headers and bytes (node:http: no content type is added,
 * nothing is re-encoded), for bodies fetch would not send as they are.
 */
export async function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<ApiResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: Json;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = undefined;
        }
        resolve({
          status: res.statusCode ?? 0,
          contentType: res.headers["content-type"] ?? null,
          body: parsed,
          text,
        });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}
