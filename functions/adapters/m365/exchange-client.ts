/**
 * The request core for Exchange Online's admin API: `POST {exchange}/adminapi/beta/{tenantId}/InvokeCommand`
 * with the app's token and the system-mailbox anchor, every `@odata.nextLink` page followed,
 * failures mapped to named errors, retried by the shared {@link RetryPolicy}.
 */
import { randomUUID } from "node:crypto";
import { InvalidRequestError, TransientError } from "../../domain/errors.ts";
import { errorFromResponse } from "./error-model.ts";
import type { RetryPolicy } from "./retry.ts";
import type { TokenProvider } from "./tokens.ts";

/** The mailbox every app-only InvokeCommand call is anchored to (as the EXO V3 module does). */
export const EXCHANGE_SYSTEM_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

export type CmdletRow = Record<string, unknown>;
export type CmdletParameters = Record<string, unknown>;

export interface ExchangeClientOptions {
  /** e.g. `https://outlook.office365.com`; also the token's resource. */
  endpoint: string;
  tokens: TokenProvider;
  retry: RetryPolicy;
  fetch?: typeof fetch;
  /** Most pages followed for one cmdlet (a guard against a nextLink loop). @default 10000 */
  maxPages?: number;
}

export class ExchangeClient {
  readonly #endpoint: string;
  readonly #origin: string;
  readonly #tokens: TokenProvider;
  readonly #retry: RetryPolicy;
  readonly #fetch: typeof fetch;
  readonly #maxPages: number;

  constructor(options: ExchangeClientOptions) {
    this.#endpoint = options.endpoint.replace(/\/+$/, "");
    this.#origin = new URL(this.#endpoint).origin;
    this.#tokens = options.tokens;
    this.#retry = options.retry;
    this.#fetch = options.fetch ?? fetch;
    this.#maxPages = options.maxPages ?? 10_000;
  }

  /** Runs one cmdlet in a tenant and returns every row of every page. */
  async invoke(tenantId: string, cmdlet: string, parameters: CmdletParameters = {}): Promise<CmdletRow[]> {
    const body = JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } });
    const rows: CmdletRow[] = [];
    let url: string | undefined =
      `${this.#endpoint}/adminapi/beta/${encodeURIComponent(tenantId)}/InvokeCommand`;
    for (let page = 0; url !== undefined; page++) {
      if (page >= this.#maxPages)
        throw new TransientError(`${cmdlet}: more than ${this.#maxPages} result pages`);
      const pageUrl: string = url;
      const result = await this.#retry.run(
        { service: "exchange", tenantId, operation: cmdlet },
        async (signal) => {
          const token = await this.#tokens.getToken(tenantId, this.#endpoint);
          const res = await this.#fetch(pageUrl, {
            method: "POST",
            signal,
            headers: {
              authorization: `Bearer ${token}`,
              "x-anchormailbox": `APP:${EXCHANGE_SYSTEM_MAILBOX}@${tenantId}`,
              "content-type": "application/json; charset=utf-8",
              accept: "application/json",
              prefer: "odata.maxpagesize=1000",
              "client-request-id": randomUUID(),
            },
            body,
          });
          const text = await res.text();
          if (!res.ok) throw errorFromResponse("exchange", cmdlet, res.status, res.headers, text);
          return { value: parsePage(cmdlet, text), status: res.status };
        },
      );
      rows.push(...result.value);
      url = result.nextLink;
      // The token goes only to the Exchange endpoint, whatever a nextLink says.
      if (url !== undefined && new URL(url).origin !== this.#origin) {
        throw new InvalidRequestError(`${cmdlet}: refusing a nextLink outside ${this.#origin}`);
      }
    }
    return rows;
  }
}

function parsePage(cmdlet: string, text: string): { value: CmdletRow[]; nextLink?: string } {
  if (text.trim() === "") return { value: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new TransientError(`${cmdlet}: the answer was not JSON`);
  }
  const obj = (json ?? {}) as { value?: unknown; "@odata.nextLink"?: unknown };
  const value = Array.isArray(obj.value)
    ? (obj.value as CmdletRow[])
    : obj.value
      ? [obj.value as CmdletRow]
      : [];
  const next = obj["@odata.nextLink"];
  return typeof next === "string" && next.length > 0 ? { value, nextLink: next } : { value };
}
