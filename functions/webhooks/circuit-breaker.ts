/**
 * A circuit breaker per partner endpoint, so that one partner's unresponsive endpoint does not
 * hold the dispatch slots every partner shares (16 requests in flight locally; the AWS
 * dispatcher's instances): each attempt to an endpoint that accepts and never answers holds a
 * slot for the whole timeout (15 s).
 *
 * Why a breaker and not a cap of attempts per partner: on AWS a capped message would go back
 * to the queue and count a receive (the dead-letter queue takes it after maxReceiveCount), and
 * skipping sends silently would change what counts as an attempt. The breaker keeps the retry
 * contract: after an attempt times out, the endpoint is open until a time (stored in the table,
 * so every dispatcher sees it); an attempt due while it is open is recorded at once as a failed
 * attempt (`WEBHOOK_ENDPOINT_UNRESPONSIVE`, "not attempted until <time>") and scheduled by the
 * retry schedule exactly like any failed attempt: no slot is held, the tenant's order holds,
 * and no message goes to the dead-letter queue that would not have. After its time the breaker
 * is half-open: one dispatcher wins the probe (a conditional write) and sends; an answer (any
 * HTTP status) closes it, another timeout opens it again for twice as long (up to 10 minutes).
 * A refused connection or a DNS failure fails within milliseconds and holds no slot: it does not
 * open the breaker. Replays go through the same check.
 */
import type { BreakerState, DynamoEndpointBreakers } from "../adapters/dynamodb/webhook-breaker.ts";
import type { ErrorInfo } from "../domain/errors.ts";
import type { SendResult } from "./sender.ts";

/** First opening; each opening in a row without an answer doubles it, up to MAX_OPEN_MS. */
export const BASE_OPEN_MS = 30_000;
export const MAX_OPEN_MS = 10 * 60_000;
/** A probe's claim lasts the attempt's timeout plus this. */
const PROBE_MARGIN_MS = 5_000;

/** Whether to send: `tracked` when a breaker exists for the URL (an answer closes it). */
export type BreakerVerdict =
  | { send: true; tracked: boolean; opens: number }
  | { send: false; until: number; error: ErrorInfo };

export interface EndpointBreakerOptions {
  store: Pick<DynamoEndpointBreakers, "get" | "open" | "claimProbe" | "close">;
  /** Per attempt (a probe's claim lasts this plus a margin). */
  timeoutMs: number;
  /** @default BASE_OPEN_MS */
  openMs?: number;
  /** @default () => Date.now() */
  now?: () => number;
}

export class EndpointBreaker {
  readonly #options: EndpointBreakerOptions;

  constructor(options: EndpointBreakerOptions) {
    this.#options = options;
  }

  /** Before an attempt to `url`: send, or record a failed attempt at once. */
  async check(partnerId: string, url: string): Promise<BreakerVerdict> {
    const { store, timeoutMs } = this.#options;
    const now = this.#now();
    const state = await store.get(partnerId);
    if (!state || state.url !== url) return { send: true, tracked: false, opens: 0 };
    if (state.openUntil > now) return skipped(state.openUntil);
    if (state.probeUntil !== undefined && state.probeUntil > now) return skipped(state.probeUntil);
    const probeUntil = now + timeoutMs + PROBE_MARGIN_MS;
    if (await store.claimProbe(partnerId, url, now, probeUntil))
      return { send: true, tracked: true, opens: state.opens };
    // Another dispatcher probes (or opened it again) meanwhile.
    return skipped(await this.#blockedUntil(partnerId, probeUntil));
  }

  /** After a sent attempt: a timeout opens the breaker; an answer closes a tracked one. */
  async after(
    partnerId: string,
    url: string,
    verdict: Extract<BreakerVerdict, { send: true }>,
    result: SendResult,
  ): Promise<void> {
    const { store } = this.#options;
    if (result.error?.code === "WEBHOOK_TIMEOUT") {
      const opens = verdict.opens + 1;
      const openMs = Math.min((this.#options.openMs ?? BASE_OPEN_MS) * 2 ** (opens - 1), MAX_OPEN_MS);
      await store.open(partnerId, url, this.#now() + openMs, opens);
    } else if (verdict.tracked && result.responseStatus !== undefined) {
      await store.close(partnerId, url);
    }
  }

  async #blockedUntil(partnerId: string, fallback: number): Promise<number> {
    const state: BreakerState | undefined = await this.#options.store.get(partnerId);
    const until = Math.max(state?.openUntil ?? 0, state?.probeUntil ?? 0);
    return until > this.#now() ? until : fallback;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}

function skipped(until: number): BreakerVerdict {
  const at = new Date(until).toISOString();
  return {
    send: false,
    until,
    error: {
      code: "WEBHOOK_ENDPOINT_UNRESPONSIVE",
      message: `The endpoint did not answer a recent attempt in time; not attempted until ${at}.`,
    },
  };
}
