/**
 * The retry policy shared by Graph and Exchange: 429, 5xx, timeouts and dropped connections
 * are retried in-task a bounded number of times, honouring Retry-After, with capped
 * full-jitter exponential backoff. What cannot be waited out in-task is thrown for the
 * workflow's Retry policy (ThrottledError keeps `retryAfterMs`).
 */
import { OnboardingError, ThrottledError } from "../../domain/errors.ts";
import {
  errorFromNetworkFailure,
  type M365Service,
  m365ErrorDetails,
  setAttempts,
  wasNotProcessed,
} from "./error-model.ts";

export interface RetryOptions {
  /** Attempts per call, the first included. @default 4 */
  maxAttempts?: number;
  /** First backoff step; attempt n waits up to base * 2^(n-1). @default 500 */
  baseDelayMs?: number;
  /** Longest single wait in-task; a longer Retry-After is thrown to the workflow instead. @default 10000 */
  maxDelayMs?: number;
  /**
   * Time limit of one attempt (request and response body) when the call gives none. Exchange's
   * server allows a cmdlet 15 minutes; reads and small writes answer in seconds, so 60 s leaves
   * room without hiding a hung connection. Slow cmdlets pass their own (see exchange-operations).
   * @default 60000
   */
  timeoutMs?: number;
  /** Source of jitter, [0, 1). @default Math.random */
  random?: () => number;
  /** How to wait. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
}

/** One attempt's outcome, for metrics (e.g. counting throttles). Never carries tokens. */
export interface M365CallEvent {
  service: M365Service;
  tenantId: string;
  /** Cmdlet name, `GET /organization` or `token`. */
  operation: string;
  attempt: number;
  durationMs: number;
  outcome: "success" | "retry" | "failure";
  status?: number;
  errorName?: string;
  retryAfterMs?: number;
  /** The wait before the next attempt, when outcome is `retry`. */
  delayMs?: number;
}

export type OnCall = (event: M365CallEvent) => void;

export interface CallContext {
  service: M365Service;
  tenantId: string;
  operation: string;
}

/** Per call: its own time limit, and whether it may be sent again after an uncertain failure. */
export interface CallOptions {
  timeoutMs?: number;
  /**
   * `always` (default): any retryable failure is retried in-task. `if-not-processed`: only
   * failures that prove Exchange did not run the call (429, the concurrency limit, a stale token)
   * are retried; after a timeout, a dropped connection or a 5xx the call is not sent again in
   * this attempt (Validate-OutboundConnector sends a test message each time; slow cmdlets would
   * outlive the task), and the error goes to the workflow's Retry policy.
   */
  resend?: "always" | "if-not-processed";
}

/** The status code an attempt ended with, when it got an answer. */
export interface AttemptResult<T> {
  value: T;
  status?: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly timeoutMs: number;
  readonly #random: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #onCall: OnCall | undefined;

  constructor(options: RetryOptions = {}, onCall?: OnCall) {
    this.maxAttempts = Math.max(1, Math.floor(options.maxAttempts ?? 4));
    this.baseDelayMs = Math.max(0, options.baseDelayMs ?? 500);
    this.maxDelayMs = Math.max(0, options.maxDelayMs ?? 10_000);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 60_000);
    this.#random = options.random ?? Math.random;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#onCall = onCall;
  }

  /** Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
  backoff(attempt: number): number {
    return this.#random() * Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1));
  }

  /**
   * Runs `attempt` until it succeeds, fails for good or the attempts are spent. `attempt`
   * gets an AbortSignal bounded by `timeoutMs` and throws named errors; anything else it
   * throws (a fetch failure, a timeout) counts as a dropped connection.
   */
  async run<T>(
    ctx: CallContext,
    attempt: (signal: AbortSignal, n: number, timeoutMs: number) => Promise<AttemptResult<T>>,
    options: CallOptions = {},
  ): Promise<T> {
    const timeoutMs = Math.max(1, options.timeoutMs ?? this.timeoutMs);
    // Whether an earlier attempt may have been applied (see M365ErrorDetails.sentBefore).
    let sentBefore = false;
    for (let n = 1; ; n++) {
      const started = performance.now();
      let error: OnboardingError;
      try {
        const result = await attempt(AbortSignal.timeout(timeoutMs), n, timeoutMs);
        this.#emit(ctx, n, started, {
          outcome: "success",
          ...(result.status !== undefined ? { status: result.status } : {}),
        });
        return result.value;
      } catch (err) {
        error =
          err instanceof OnboardingError ? err : errorFromNetworkFailure(ctx.service, ctx.operation, err);
      }
      setAttempts(error, n, sentBefore);
      if (!wasNotProcessed(error)) sentBefore = true;
      const retryAfterMs = error instanceof ThrottledError ? error.retryAfterMs : undefined;
      const status = statusOf(error);
      const base = {
        errorName: error.name,
        ...(status ? { status } : {}),
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
      const mayResend = options.resend !== "if-not-processed" || wasNotProcessed(error);
      if (!error.retryable || !mayResend || n >= this.maxAttempts || (retryAfterMs ?? 0) > this.maxDelayMs) {
        this.#emit(ctx, n, started, { outcome: "failure", ...base });
        throw error;
      }
      // Honour Retry-After to the millisecond, plus jitter so that throttled callers spread out.
      const delayMs =
        retryAfterMs !== undefined ? retryAfterMs + this.#random() * this.baseDelayMs : this.backoff(n);
      this.#emit(ctx, n, started, { outcome: "retry", delayMs, ...base });
      await this.#sleep(delayMs);
    }
  }

  #emit(
    ctx: CallContext,
    attempt: number,
    started: number,
    rest: Partial<M365CallEvent> & Pick<M365CallEvent, "outcome">,
  ) {
    if (!this.#onCall) return;
    try {
      this.#onCall({ ...ctx, attempt, durationMs: performance.now() - started, ...rest });
    } catch {
      // A metrics hook must never break a call.
    }
  }
}

function statusOf(err: unknown): number | undefined {
  return m365ErrorDetails(err)?.status;
}
