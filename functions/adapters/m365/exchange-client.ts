/**
 * The request core for Exchange Online's admin API: `POST {exchange}/adminapi/beta/{tenantId}/InvokeCommand`
 * with the app's token and the system-mailbox anchor, every `@odata.nextLink` page followed,
 * failures mapped to named errors, retried by the shared {@link RetryPolicy}.
 */
import { randomUUID } from "node:crypto";
import {
  AccessDeniedError,
  InvalidRequestError,
  type OnboardingError,
  ThrottledError,
  TransientError,
} from "../../domain/errors.ts";
import {
  errorFromAdminApiErrors,
  errorFromResponse,
  m365ErrorDetails,
  staleTokenError,
} from "./error-model.ts";
import { ExchangeHosts } from "./exchange-hosts.ts";
import { paceOnRateLimit } from "./rate-limit.ts";
import type { CallOptions, RetryPolicy } from "./retry.ts";
import { TenantHolds } from "./tenant-holds.ts";
import type { TenantLeases } from "./tenant-leases.ts";
import { TenantSlots } from "./tenant-slots.ts";
import type { TokenProvider } from "./tokens.ts";

/** The mailbox every app-only InvokeCommand call is anchored to (as the EXO V3 module does). */
export const EXCHANGE_SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

export type CmdletRow = Record<string, unknown>;
export type CmdletParameters = Record<string, unknown>;

export interface ExchangeClientOptions {
  /** e.g. `https://outlook.office365.com`; also the token's resource. */
  endpoint: string;
  /**
   * The domain whose hosts may serve a tenant's requests after a regional redirect or in a
   * nextLink (its subdomains, on the endpoint's port). @default the endpoint's host
   */
  exchangeDomain?: string;
  /** The app's tokens, or (for a customer admin's delegated calls) one given token. */
  tokens: Pick<TokenProvider, "getToken" | "invalidate">;
  /**
   * `X-AnchorMailbox` prefix: `APP:` for the app's own calls, `UPN:` for a signed-in user's
   * (delegated) calls, as public code sends them (docs/m365-fidelity.md A10). @default "APP"
   */
  anchor?: "APP" | "UPN";
  retry: RetryPolicy;
  fetch?: typeof fetch;
  /** Most pages followed for one cmdlet (a guard against a nextLink loop). @default 10000 */
  maxPages?: number;
  /**
   * Requests in flight per tenant from this process; more wait their turn. Exchange limits
   * concurrent requests per tenant and answers over the limit as throttled. @default 3
   */
  maxConcurrentPerTenant?: number;
  /**
   * The tenants' Exchange leases shared by every environment (see tenant-leases.ts): with them,
   * the cap above holds for the tenant as a whole, not per process. @default none (per process)
   */
  lease?: Pick<TenantLeases, "enter" | "hold">;
  /** Told of `@adminapi.warnings` in an answer (logged by the caller). */
  onWarning?: (warning: { tenantId: string; cmdlet: string; warnings: string[] }) => void;
}

export class ExchangeClient {
  readonly #endpoint: string;
  readonly #hosts: ExchangeHosts;
  readonly #tokens: Pick<TokenProvider, "getToken" | "invalidate">;
  readonly #anchor: "APP" | "UPN";
  readonly #retry: RetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #maxPages: number;
  readonly #slots: TenantSlots;
  readonly #onWarning: ExchangeClientOptions["onWarning"];
  readonly #holds = new TenantHolds();
  readonly #lease: ExchangeClientOptions["lease"];

  constructor(options: ExchangeClientOptions) {
    this.#endpoint = options.endpoint.replace(/\/+$/, "");
    this.#hosts = new ExchangeHosts(this.#endpoint, options.exchangeDomain);
    this.#tokens = options.tokens;
    this.#anchor = options.anchor ?? "APP";
    this.#retry = options.retry;
    this.#fetch = options.fetch ?? fetch;
    this.#maxPages = options.maxPages ?? 10_000;
    this.#slots = new TenantSlots(options.maxConcurrentPerTenant ?? 3);
    this.#onWarning = options.onWarning;
    this.#lease = options.lease;
  }

  /**
   * One request to the tenant's Exchange admin API, retried by the shared policy: the tenant's
   * lease (when leases are shared), the token, one of the tenant's request slots, the tenant's
   * hold after a 429 (or an exhausted rate limit), regional redirects followed, failures mapped
   * to named errors. `read` turns a 2xx answer into the result (and may throw a named error).
   */
  async #send<T>(
    tenantId: string,
    operation: string,
    url: string,
    init: { method: "GET" | "POST"; headers?: Record<string, string>; body?: string },
    options: CallOptions,
    read: (text: string) => T,
  ): Promise<T> {
    // Waiting for the lease is not retried in-task: TenantBusyError goes to the workflow.
    const entry = await this.#lease?.enter(tenantId);
    const held = (entry?.holdUntilMs ?? 0) - Date.now();
    if (held > 0) this.#holds.hold(tenantId, held);
    let refreshedToken = false;
    const call = this.#retry.run(
      { service: "exchange", tenantId, operation },
      async (_signal, _n, timeoutMs) => {
        const token = await this.#tokens.getToken(tenantId, this.#endpoint);
        const release = await this.#slots.acquire(tenantId);
        try {
          await this.#holds.wait(tenantId, operation, this.#retry.maxDelayMs);
          // The call's time limit starts once it has a slot: waiting for one is not Exchange's time.
          const res = await this.#hosts.send(this.#fetch, tenantId, operation, url, {
            method: init.method,
            signal: AbortSignal.timeout(timeoutMs),
            headers: {
              authorization: `Bearer ${token}`,
              "x-anchormailbox": `${this.#anchor}:${EXCHANGE_SYSTEM_MAILBOX}@${tenantId}`,
              accept: "application/json",
              "client-request-id": randomUUID(),
              ...init.headers,
            },
            ...(init.body !== undefined ? { body: init.body } : {}),
          });
          const text = await res.text();
          paceOnRateLimit(this.#holds, tenantId, res.headers, this.#slots.max - 1);
          if (!res.ok) {
            const error = this.#held(
              tenantId,
              errorFromResponse("exchange", operation, res.status, res.headers, text),
            );
            // Exchange's own concurrency limit is lower than ours: fewer requests at once from now on.
            if (m365ErrorDetails(error)?.concurrencyLimit) this.#slots.narrow(tenantId);
            // A 401 that is not about consent: the token may be stale (revoked, keys rolled).
            // Once per call, as the ExchangeOnlineManagement module does: a new token, then again.
            if (res.status === 401 && !refreshedToken && error instanceof AccessDeniedError) {
              refreshedToken = true;
              this.#tokens.invalidate(tenantId, this.#endpoint);
              throw staleTokenError("exchange", operation, res.status);
            }
            throw error;
          }
          return { value: read(text), status: res.status };
        } finally {
          release();
        }
      },
      options,
    );
    return call.finally(() => entry?.leave());
  }

  /**
   * Runs one cmdlet in a tenant and returns every row of every page. `options` sets the call's
   * time limit and whether it may be re-sent after an uncertain failure (see {@link CallOptions}).
   */
  async invoke(
    tenantId: string,
    cmdlet: string,
    parameters: CmdletParameters = {},
    options: CallOptions = {},
  ): Promise<CmdletRow[]> {
    const body = JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } });
    const rows: CmdletRow[] = [];
    let url: string | undefined = this.invokeUrl(tenantId);
    for (let page = 0; url !== undefined; page++) {
      if (page >= this.#maxPages)
        throw new TransientError(`${cmdlet}: more than ${this.#maxPages} result pages`);
      const pageUrl: string = url;
      const result = await this.#send(
        tenantId,
        cmdlet,
        pageUrl,
        {
          method: "POST",
          headers: { "content-type": "application/json; charset=utf-8", prefer: "odata.maxpagesize=1000" },
          body,
        },
        options,
        (text) => {
          const parsed = parsePage(cmdlet, text);
          if (parsed.errors.length > 0) throw errorFromAdminApiErrors(cmdlet, parsed.errors);
          if (parsed.warnings.length > 0) this.#warn(tenantId, cmdlet, parsed.warnings);
          return parsed;
        },
      );
      rows.push(...result.value);
      url = undefined;
      if (result.nextLink !== undefined) {
        // The token goes only to the Exchange endpoint and its cloud's regional hosts.
        const next = this.#hosts.resolve(result.nextLink, pageUrl);
        if (!this.#hosts.allows(next)) {
          throw new InvalidRequestError(`${cmdlet}: refusing a nextLink to ${next.origin}`);
        }
        url = next.toString();
      }
    }
    return rows;
  }

  /** The InvokeCommand URL of a tenant at the configured endpoint. */
  invokeUrl(tenantId: string): string {
    return `${this.#endpoint}/adminapi/beta/${encodeURIComponent(tenantId)}/InvokeCommand`;
  }

  /**
   * `POST {exchange}/adminapi/beta/{tenantId}/$batch` with a JSON body of `requests`; returns the
   * parsed answer (see exchange-batch.ts for its shape). The batch as a whole is retried like a
   * single call.
   */
  async batch(
    tenantId: string,
    operation: string,
    body: unknown,
    options: CallOptions = {},
  ): Promise<unknown> {
    const url = `${this.#endpoint}/adminapi/beta/${encodeURIComponent(tenantId)}/$batch`;
    return this.#send(
      tenantId,
      operation,
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json; charset=utf-8" },
        body: JSON.stringify(body),
      },
      options,
      (text) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new TransientError(`${operation}: the answer was not JSON`);
        }
      },
    );
  }

  /** Told of `@adminapi.warnings`; logging must never break a call. */
  warn(tenantId: string, cmdlet: string, warnings: string[]): void {
    this.#warn(tenantId, cmdlet, warnings);
  }

  #warn(tenantId: string, cmdlet: string, warnings: string[]): void {
    try {
      this.#onWarning?.({ tenantId, cmdlet, warnings });
    } catch {
      // Logging must never break a call.
    }
  }

  /** After a 429 with Retry-After, the tenant's other requests wait too (Exchange's budget is per tenant). */
  #held(tenantId: string, error: OnboardingError): OnboardingError {
    if (error instanceof ThrottledError && error.retryAfterMs !== undefined) {
      this.#holds.hold(tenantId, error.retryAfterMs);
      this.#lease?.hold(tenantId, Date.now() + error.retryAfterMs);
    }
    return error;
  }

  /**
   * The cmdlets Exchange lets the app run in this tenant: `GET {exchange}/adminapi/v1.0/{tenantId}/EXOModuleFile`
   * with `CommandName: *`, whose `value[].exportedCmdlets` is a comma-separated list (what the
   * EXO V3 module builds its commands from; docs/m365-fidelity.md E9). Reads only. Undefined when
   * the answer has no such list (the preflight is then skipped, and a refused cmdlet is still
   * reported by the step that runs it).
   */
  async availableCmdlets(tenantId: string): Promise<string[] | undefined> {
    const url = `${this.#endpoint}/adminapi/v1.0/${encodeURIComponent(tenantId)}/EXOModuleFile?Version=${MODULE_FILE_VERSION}`;
    return this.#send(
      tenantId,
      "EXOModuleFile",
      url,
      { method: "GET", headers: { commandname: "*" } },
      {},
      parseModuleFile,
    );
  }
}

/** `value[].exportedCmdlets` (any casing), split on commas; undefined when absent. */
function parseModuleFile(text: string): string[] | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const value = (json as { value?: unknown } | null)?.value;
  const rows = Array.isArray(value) ? value : value ? [value] : [];
  let found = false;
  const cmdlets: string[] = [];
  for (const row of rows) {
    if (typeof row !== "object" || row === null) continue;
    const key = Object.keys(row).find((k) => k.toLowerCase() === "exportedcmdlets");
    const list = key === undefined ? undefined : (row as Record<string, unknown>)[key];
    if (typeof list !== "string") continue;
    found = true;
    cmdlets.push(
      ...list
        .split(",")
        .map((c) => c.trim())
        .filter((c) => c.length > 0),
    );
  }
  return found ? cmdlets : undefined;
}

/**
 * The ExchangeOnlineManagement module version named when asking for the module file: the cmdlet
 * list does not depend on it (CIPP-API sends 3.7.1; docs/m365-fidelity.md E9).
 */
const MODULE_FILE_VERSION = "3.7.1";

interface Page {
  value: CmdletRow[];
  nextLink?: string;
  /** `@adminapi.errors`: error records the cmdlet wrote although the answer is a 200. */
  errors: unknown[];
  /** `@adminapi.warnings`, as text. */
  warnings: string[];
}

function parsePage(cmdlet: string, text: string): Page {
  if (text.trim() === "") return { value: [], errors: [], warnings: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TransientError(`${cmdlet}: the answer was not JSON`);
  }
  const obj = (json ?? {}) as Record<string, unknown>;
  const value = Array.isArray(obj.value)
    ? (obj.value as CmdletRow[])
    : obj.value
      ? [obj.value as CmdletRow]
      : [];
  const errors = annotation(obj, "errors");
  const warnings = annotation(obj, "warnings").map((w) => (typeof w === "string" ? w : JSON.stringify(w)));
  const next = obj["@odata.nextLink"];
  return typeof next === "string" && next.length > 0
    ? { value, nextLink: next, errors, warnings }
    : { value, errors, warnings };
}

/** `@adminapi.errors` / `@adminapi.warnings` (any case), as a list. */
function annotation(obj: Record<string, unknown>, name: "errors" | "warnings"): unknown[] {
  const key = Object.keys(obj).find((k) => k.toLowerCase() === `@adminapi.${name}`);
  const v = key === undefined ? undefined : obj[key];
  if (v === undefined || v === null || v === "") return [];
  return Array.isArray(v) ? v : [v];
}
