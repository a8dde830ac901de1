/**
 * What every probe shares: the tenant and the mode checked, the app's token provider and an
 * Exchange client whose every answer is recorded, the checks found so far (each logged as it
 * is found) and the answers observed.
 */
import { ExchangeClient } from "../../adapters/m365/exchange-client.ts";
import { type CallOptions, RetryPolicy } from "../../adapters/m365/retry.ts";
import { TokenProvider } from "../../adapters/m365/tokens.ts";
import {
  type M365AppConfig,
  PUBLIC_AUTHORITY_HOSTS,
  type ResolvedM365Endpoints,
} from "../../commons/config.ts";
import type { RegionMode } from "../../domain/provider.ts";
import { redact, shapeOfError, shapeOfSuccess } from "./answers.ts";
import type { CheckStatus, CmdletResult, DoctorCheck, Observation } from "./report.ts";

/** Exchange gives a cmdlet 15 minutes; validation connects to the host and sends a message (never re-sent). */
const SLOW: Readonly<Record<string, CallOptions>> = {
  "Validate-OutboundConnector": { timeoutMs: 540_000, resend: "if-not-processed" },
  "New-DistributionGroup": { timeoutMs: 120_000 },
};

/** What a recorded answer looked like; the fetch wrapper fills it. */
interface Recorded {
  url: string;
  method: string;
  status: number;
  body: string;
}

export interface DoctorSessionOptions {
  tenantId: string;
  mode: { region: RegionMode; outboundGateway: boolean };
  app: M365AppConfig;
  resolved: ResolvedM365Endpoints;
  log: (line: string) => void;
  fetch?: typeof fetch;
}

export class DoctorSession {
  readonly tenantId: string;
  readonly mode: { region: RegionMode; outboundGateway: boolean };
  readonly endpoints: ResolvedM365Endpoints["endpoints"];
  readonly tokens: TokenProvider;
  readonly exchange: ExchangeClient;
  readonly checks: DoctorCheck[] = [];
  readonly observations: Observation[] = [];
  readonly log: (line: string) => void;
  readonly #recorded: Recorded[] = [];
  readonly #fetch: typeof fetch;

  constructor(options: DoctorSessionOptions) {
    const { app, resolved } = options;
    this.tenantId = options.tenantId;
    this.mode = options.mode;
    this.endpoints = resolved.endpoints;
    this.log = options.log;
    const baseFetch = options.fetch ?? fetch;
    this.#fetch = async (input, init) => {
      const res = await baseFetch(input, init);
      const body = await res.clone().text();
      this.#recorded.push({ url: String(input), method: init?.method ?? "GET", status: res.status, body });
      return res;
    };
    this.tokens = new TokenProvider({
      clientId: app.clientId,
      credential: app.clientCertificatePath
        ? { certificatePath: app.clientCertificatePath }
        : { clientSecret: app.clientSecret! },
      authorityHost: resolved.endpoints.authorityHost,
      disableInstanceDiscovery:
        resolved.explicitAuthorityHost || !PUBLIC_AUTHORITY_HOSTS.includes(resolved.endpoints.authorityHost),
    });
    this.exchange = new ExchangeClient({
      endpoint: resolved.endpoints.exchange,
      tokens: this.tokens,
      retry: new RetryPolicy({ maxAttempts: 2, baseDelayMs: 200, maxDelayMs: 2_000 }),
      fetch: this.#fetch,
    });
  }

  /** A fetch whose answers are recorded (for Graph, which the Exchange client does not reach). */
  get fetch(): typeof fetch {
    return this.#fetch;
  }

  check(id: string, title: string, status: CheckStatus, detail: string): void {
    this.checks.push({ id, title, status, detail });
    this.log(`${status.toUpperCase().padEnd(4)} ${title}${detail ? `: ${detail}` : ""}`);
  }

  /** Keeps the last recorded answer under `key` (or, when nothing was answered, the error). */
  observe(key: string, request: string, fallback?: { status: number; error: unknown }): Observation {
    const last = this.#recorded.at(-1);
    const status = last?.status ?? fallback?.status ?? 0;
    const shape =
      last && status >= 200 && status < 300 ? shapeOfSuccess(last.body) : shapeOfError(status, last?.body);
    const o: Observation = {
      key,
      request,
      status,
      shape,
      body: redact(last?.body ?? String(fallback?.error ?? "")).slice(0, 20_000),
    };
    this.observations.push(o);
    return o;
  }

  /** Runs a cmdlet as the app; never throws: the error is in the result. */
  async run(key: string, cmdlet: string, parameters: Record<string, unknown> = {}): Promise<CmdletResult> {
    const request = `${cmdlet} ${Object.entries(parameters)
      .map(([k, v]) => `-${k} ${JSON.stringify(v)}`)
      .join(" ")}`.trim();
    try {
      const rows = await this.exchange.invoke(this.tenantId, cmdlet, parameters, SLOW[cmdlet] ?? {});
      return { rows, observation: this.observe(key, redact(request)) };
    } catch (error) {
      return { error, observation: this.observe(key, redact(request), { status: 0, error }) };
    }
  }
}
