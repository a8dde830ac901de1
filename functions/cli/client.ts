/**
 * A small client of the REST API v1 (docs/api.md) for the ops CLI: one request core
 * (auth header, timeout, bounded retries of throttling and gateway errors, problem+json
 * errors) and one method per operation the CLI uses. The response types are the API's own
 * zod schemas, so a change of the wire format breaks the CLI's typecheck, not its users.
 */
import type { z } from "zod";
import type {
  ChangePageSchema,
  DriftReportSchema,
  OnboardingRequestBody as OnboardingRequestSchema,
  PartnerCreatedSchema,
  PartnerPageSchema,
  TenantEventPageSchema,
  TenantPageSchema,
  TenantSchema,
  WebhookDeliveryPageSchema,
  WebhookDeliverySchema,
} from "../api/schemas.ts";
import { parseRetryAfter } from "../commons/http.ts";
import type { TenantStatus } from "../domain/tenant.ts";
import { ApiProblemError, ApiUnreachableError, type Problem } from "./errors.ts";

export type TenantResource = z.output<typeof TenantSchema>;
/** The body of `POST /v1/tenants`, as validated (defaults applied, tenant id lower-cased). */
export type OnboardingRequestBody = z.output<typeof OnboardingRequestSchema>;
export type TenantPage = z.output<typeof TenantPageSchema>;
export type TenantEventPage = z.output<typeof TenantEventPageSchema>;
export type DriftReport = z.output<typeof DriftReportSchema>;
export type ChangePage = z.output<typeof ChangePageSchema>;
export type TenantEvent = TenantEventPage["items"][number];
export type Delivery = z.output<typeof WebhookDeliverySchema>;
export type DeliveryPage = z.output<typeof WebhookDeliveryPageSchema>;
export type PartnerCreated = z.output<typeof PartnerCreatedSchema>;
export type PartnerPage = z.output<typeof PartnerPageSchema>;
export type Partner = PartnerPage["items"][number];

export interface Page<T> {
  items: T[];
  nextCursor?: string | undefined;
}

export interface PageQuery {
  limit?: number;
  cursor?: string;
}

export interface OnboardingClientOptions {
  /** Base URL of the API, stage included in AWS (e.g. `https://abc.execute-api.eu-west-1.amazonaws.com/prod`). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>`; never logged. */
  apiKey: string;
  /** Per request. @default 30_000 */
  timeoutMs?: number;
  /**
   * Attempts for GETs answered 502/503/504 or not at all, and for POSTs carrying an
   * Idempotency-Key answered 5xx or not at all. Throttled answers (429) and a 409
   * `idempotency-in-progress` are waited out besides, up to 10 times (Retry-After honoured).
   * @default 3
   */
  maxAttempts?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

type Query = Record<string, string | number | undefined>;

/** Waits for answers asking to wait (429, a request still in progress), besides the attempts. */
const MAX_WAITS = 10;

/**
 * @example
 * ```ts
 * const api = new OnboardingClient({ baseUrl: "http://127.0.0.1:3000", apiKey });
 * for await (const tenant of api.allTenants({ status: "failed" })) await api.retryTenant(tenant.tenantId);
 * ```
 */
export class OnboardingClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #maxAttempts: number;
  readonly #fetch: typeof fetch;

  constructor(options: OnboardingClientOptions) {
    this.baseUrl = options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`;
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  listTenants(query: PageQuery & { status?: TenantStatus; partnerId?: string } = {}): Promise<TenantPage> {
    return this.#request("GET", "v1/tenants", { query: { ...query } });
  }

  /** Every tenant matching the filter, following `nextCursor`; `limit` is the page size. */
  allTenants(query: { status?: TenantStatus; partnerId?: string; limit?: number } = {}) {
    return this.#all((cursor) => this.listTenants({ ...query, limit: query.limit ?? 100, ...cursor }));
  }

  /**
   * `POST /v1/tenants` with an Idempotency-Key: the API answers a repeated key with its first
   * answer (`replayed`), so the request is safe to send again after a 5xx or no answer at all.
   */
  async onboardTenant(
    body: OnboardingRequestBody,
    idempotencyKey: string,
  ): Promise<{ tenant: TenantResource; replayed: boolean }> {
    const {
      body: tenant,
      headers,
      mayHaveReached,
    } = await this.#exchange<TenantResource>("POST", "v1/tenants", {
      body,
      headers: { "idempotency-key": idempotencyKey },
    });
    // A replay of an attempt of this same call (its answer lost) is this call's own acceptance.
    return { tenant, replayed: headers.get("idempotent-replayed") === "true" && !mayHaveReached };
  }

  getTenant(tenantId: string): Promise<TenantResource> {
    return this.#request("GET", `v1/tenants/${segment(tenantId)}`);
  }

  listEvents(tenantId: string, query: PageQuery = {}): Promise<TenantEventPage> {
    return this.#request("GET", `v1/tenants/${segment(tenantId)}/events`, { query: { ...query } });
  }

  allEvents(tenantId: string, query: { limit?: number } = {}) {
    return this.#all((cursor) => this.listEvents(tenantId, { limit: query.limit ?? 100, ...cursor }));
  }

  /** The PowerShell that grants the app least privilege in the tenant (text). */
  permissionsScript(tenantId: string): Promise<string> {
    return this.#request("GET", `v1/tenants/${segment(tenantId)}/permissions-script`, { text: true });
  }

  /** 202 from `failed`, `awaiting_consent` or `awaiting_permissions`; anything else is an ApiProblemError with status 409. */
  retryTenant(tenantId: string): Promise<TenantResource> {
    return this.#request("POST", `v1/tenants/${segment(tenantId)}/retry`);
  }

  /** The latest drift check (`checkedAt` null before the first). */
  getDrift(tenantId: string): Promise<DriftReport> {
    return this.#request("GET", `v1/tenants/${segment(tenantId)}/drift`);
  }

  /** 202 for a succeeded tenant; anything else is an ApiProblemError with status 409. */
  checkDrift(tenantId: string): Promise<TenantResource> {
    return this.#request("POST", `v1/tenants/${segment(tenantId)}/drift-checks`);
  }

  /** 202 from awaiting_approval: applies exactly the tenant's plan. */
  approveTenant(tenantId: string): Promise<TenantResource> {
    return this.#request("POST", `v1/tenants/${segment(tenantId)}/approve`);
  }

  /** The audit trail, newest first. */
  listChanges(tenantId: string, query: PageQuery = {}): Promise<ChangePage> {
    return this.#request("GET", `v1/tenants/${segment(tenantId)}/changes`, { query: { ...query } });
  }

  offboardTenant(tenantId: string): Promise<TenantResource> {
    return this.#request("DELETE", `v1/tenants/${segment(tenantId)}`);
  }

  listDeliveries(query: PageQuery & { tenantId?: string } = {}): Promise<DeliveryPage> {
    return this.#request("GET", "v1/webhook/deliveries", { query: { ...query } });
  }

  allDeliveries(query: { tenantId?: string; limit?: number } = {}) {
    return this.#all((cursor) => this.listDeliveries({ ...query, limit: query.limit ?? 100, ...cursor }));
  }

  replayDelivery(deliveryId: string): Promise<Delivery> {
    return this.#request("POST", `v1/webhook/deliveries/${segment(deliveryId)}/replay`);
  }

  /** The answer carries the partner's API key, which the API never shows again. */
  createPartner(name: string): Promise<PartnerCreated> {
    return this.#request("POST", "v1/partners", { body: { name } });
  }

  listPartners(query: PageQuery = {}): Promise<PartnerPage> {
    return this.#request("GET", "v1/partners", { query: { ...query } });
  }

  allPartners(query: { limit?: number } = {}) {
    return this.#all((cursor) => this.listPartners({ limit: query.limit ?? 100, ...cursor }));
  }

  async *#all<T>(page: (cursor: { cursor?: string }) => Promise<Page<T>>): AsyncGenerator<T> {
    let cursor: string | undefined;
    do {
      const result = await page(cursor === undefined ? {} : { cursor });
      yield* result.items;
      cursor = result.nextCursor;
    } while (cursor);
  }

  async #request<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    options: { query?: Query; body?: unknown; text?: boolean } = {},
  ): Promise<T> {
    return (await this.#exchange<T>(method, path, options)).body;
  }

  async #exchange<T>(
    method: "GET" | "POST" | "DELETE",
    path: string,
    options: { query?: Query; body?: unknown; headers?: Record<string, string>; text?: boolean } = {},
  ): Promise<{ body: T; headers: Headers; mayHaveReached: boolean }> {
    const url = new URL(path, this.baseUrl);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      accept: options.text
        ? "text/plain, application/problem+json"
        : "application/json, application/problem+json",
      authorization: `Bearer ${this.#apiKey}`,
    };
    if (options.body !== undefined) headers["content-type"] = "application/json";
    Object.assign(headers, options.headers);
    // A GET changes nothing; a POST with an Idempotency-Key is answered once whatever the repeats.
    const repeatable = method === "GET" || headers["idempotency-key"] !== undefined;

    // Whether an earlier attempt may have been handled: no answer, or a 5xx (not a 429 or in progress).
    let mayHaveReached = false;
    // Answers asking to wait (429, the same Idempotency-Key still in progress) were not handled:
    // waited out up to MAX_WAITS times besides the attempts.
    let waits = 0;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.#maxAttempts;
      let response: Response;
      try {
        response = await this.#fetch(url, {
          method,
          headers,
          ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
          signal: AbortSignal.timeout(this.#timeoutMs),
          redirect: "error",
        });
      } catch (err) {
        // A GET is safe to send again; a POST or DELETE that got no answer may have been applied.
        if (repeatable && !last) {
          mayHaveReached = true;
          await sleep(backoff(attempt));
          continue;
        }
        throw new ApiUnreachableError(this.#unreachable(err), { cause: err });
      }
      if (response.ok) {
        const text = await response.text();
        const body = (options.text ? text : text ? JSON.parse(text) : undefined) as T;
        return { body, headers: response.headers, mayHaveReached };
      }
      const wait = response.status === 429 || (repeatable && method !== "GET" && isInProgress(response));
      const retryable =
        (method === "GET" && [502, 503, 504].includes(response.status)) ||
        (repeatable && method !== "GET" && response.status >= 500);
      if (wait ? waits < MAX_WAITS : retryable && !last) {
        if (wait) attempt--;
        else mayHaveReached = true;
        const pause = wait ? backoff(Math.min(++waits, 5)) : backoff(attempt);
        await response.body?.cancel();
        await sleep(retryAfter(response.headers.get("retry-after")) ?? pause);
        continue;
      }
      throw new ApiProblemError(response.status, await problemOf(response));
    }
  }

  #unreachable(err: unknown): string {
    const where = this.baseUrl.replace(/\/$/, "");
    if (err instanceof DOMException && err.name === "TimeoutError") {
      return `No answer from the API at ${where} within ${this.#timeoutMs / 1000} s.`;
    }
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error).message;
    return `Cannot reach the API at ${where} (${reason}). Is ONBOARDING_API_URL right and the service up?`;
  }
}

/** The API's 409 for a repeated Idempotency-Key whose first request is still running. */
function isInProgress(response: Response): boolean {
  return response.status === 409 && response.headers.has("retry-after");
}

function segment(value: string): string {
  return encodeURIComponent(value);
}

async function problemOf(response: Response): Promise<Problem> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      const problem = parsed as Problem;
      // API Gateway's own answers carry a `message` rather than a problem.
      const message = (parsed as { message?: unknown }).message;
      return {
        ...problem,
        status: problem.status ?? response.status,
        title: problem.title ?? (typeof message === "string" ? message : response.statusText),
      };
    }
  } catch {
    // not JSON: fall through
  }
  return { status: response.status, title: response.statusText || `HTTP ${response.status}` };
}

/** Seconds or an HTTP date, in ms, capped so that a CLI never hangs for long. */
function retryAfter(header: string | null): number | undefined {
  const ms = parseRetryAfter(header);
  return ms === undefined ? undefined : Math.min(ms, 10_000);
}

function backoff(attempt: number): number {
  return Math.round(250 * 2 ** (attempt - 1) * (0.5 + Math.random()));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
