/**
 * Delivering an event to a rule's Lambda target, in the two stages AWS has:
 *
 * 1. EventBridge invokes the function asynchronously. Only a failed hand-over (the function
 *    cannot be invoked at all: `invoke` rejects) is retried by EventBridge, with the target's
 *    RetryPolicy (MaximumRetryAttempts, MaximumEventAgeInSeconds), then sent to its
 *    DeadLetterConfig queue (`sendToQueue`) with EventBridge's message attributes.
 * 2. Lambda's asynchronous queue (a stand-in: the Lambda environments take synchronous calls)
 *    runs the accepted event: a throttled invocation is retried for up to 6 hours, a function
 *    error twice (after 1 and 2 minutes, or the function's `MaximumRetryAttempts`), then the
 *    event goes to the function's on-failure destination (its AWS::Lambda::EventInvokeConfig,
 *    an SQS queue: the invocation record Lambda sends, the event as `requestPayload`) or, without
 *    one, is dropped; EventBridge's dead-letter queue never sees it.
 *
 * Every delay is multiplied by `retryScale` (tests).
 */
import { randomUUID } from "node:crypto";
import type { Invoke } from "../contracts.ts";
import type { RuleModel, TargetModel } from "./rules.ts";

export type SendToQueue = (
  queueArn: string,
  body: string,
  attributes: Record<string, string>,
) => Promise<void>;

export interface DeliveryOptions {
  invoke: Invoke;
  retryScale: number;
  sendToQueue?: SendToQueue;
  /** A function's asynchronous invocation settings (its EventInvokeConfig), by function ARN. */
  asyncConfigOf?: (functionArn: string) => AsyncInvokeConfig | undefined;
  /** Told of every outcome (logs, tests). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
}

export interface AsyncInvokeConfig {
  /** @default 2 */
  maximumRetryAttempts?: number;
  /** An SQS queue ARN. */
  onFailure?: string;
}

export interface DeliveryOutcome {
  rule: string;
  target: string;
  result:
    | "delivered"
    | "function-error-dropped"
    | "function-error-sent-on-failure"
    | "dead-lettered"
    | "dropped"
    | "throttled-expired";
  attempts: number;
  error?: string;
}

const LAMBDA_ASYNC_RETRIES = 2;
const LAMBDA_ASYNC_MAX_AGE_MS = 6 * 3600 * 1000;

export class Deliveries {
  readonly #o: DeliveryOptions;
  readonly #timers = new Map<NodeJS.Timeout, (go: boolean) => void>();
  readonly #pending = new Set<Promise<void>>();
  #closed = false;

  constructor(options: DeliveryOptions) {
    this.#o = options;
  }

  /** Delivers in the background; `settled` resolves when every delivery ended. */
  deliver(rule: RuleModel, target: TargetModel, event: Record<string, unknown>): Promise<void> {
    const task = this.#handOver(rule, target, event).finally(() => this.#pending.delete(task));
    this.#pending.add(task);
    return task;
  }

  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Drops pending retries (a stop of the form loses them). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const [timer, resolve] of this.#timers) {
      clearTimeout(timer);
      resolve(false);
    }
    this.#timers.clear();
    await this.settled();
  }

  /** Waits `ms` (scaled); false when the form closed meanwhile. */
  #sleep(ms: number): Promise<boolean> {
    if (this.#closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve(!this.#closed);
      }, ms * this.#o.retryScale);
      this.#timers.set(timer, resolve);
    });
  }

  async #handOver(rule: RuleModel, target: TargetModel, event: Record<string, unknown>): Promise<void> {
    const payload = target.input ?? event;
    const born = Date.now();
    let lastError = "";
    for (let attempt = 0; attempt <= target.maximumRetryAttempts; attempt++) {
      if (attempt > 0) {
        if (Date.now() - born > target.maximumEventAgeSeconds * 1000) break;
        if (!(await this.#sleep(Math.min(300_000, 1000 * 2 ** (attempt - 1))))) return;
      }
      const accepted = await this.#o.invoke(target.arn, payload).then(
        (result) => ({ result }),
        (err: unknown) => ({ error: err instanceof Error ? err.message : String(err) }),
      );
      if ("result" in accepted) {
        // Accepted: from here on it is Lambda's asynchronous queue.
        await this.#lambdaAsync(rule, target, payload, accepted.result, attempt + 1);
        return;
      }
      lastError = accepted.error;
    }
    await this.#deadLetter(rule, target, event, lastError, target.maximumRetryAttempts + 1);
  }

  async #lambdaAsync(
    rule: RuleModel,
    target: TargetModel,
    payload: unknown,
    first: Awaited<ReturnType<Invoke>>,
    handOvers: number,
  ): Promise<void> {
    let result = first;
    let attempts = 1;
    let functionErrors = 0;
    const born = Date.now();
    let throttleDelay = 1000;
    while (!result.ok) {
      if (result.refused) {
        if (Date.now() - born > LAMBDA_ASYNC_MAX_AGE_MS) {
          this.#outcome(rule, target, "throttled-expired", attempts, result.errorType);
          return;
        }
        if (!(await this.#sleep(throttleDelay))) return;
        throttleDelay = Math.min(300_000, throttleDelay * 2);
      } else {
        functionErrors += 1;
        const config = this.#o.asyncConfigOf?.(target.arn);
        if (functionErrors > (config?.maximumRetryAttempts ?? LAMBDA_ASYNC_RETRIES)) {
          await this.#onFailure(rule, target, payload, result, attempts, config?.onFailure);
          return;
        }
        if (!(await this.#sleep(functionErrors * 60_000))) return;
      }
      attempts += 1;
      result = await this.#o.invoke(target.arn, payload).catch((err: unknown) => ({
        ok: false as const,
        errorType: "Lambda.ServiceException",
        errorMessage: String(err),
      }));
    }
    this.#outcome(rule, target, "delivered", attempts + handOvers - 1);
  }

  /** Retries exhausted on function errors: the invocation record to the on-failure queue, or dropped. */
  async #onFailure(
    rule: RuleModel,
    target: TargetModel,
    payload: unknown,
    result: { errorType: string; errorMessage: string },
    attempts: number,
    destination: string | undefined,
  ) {
    if (!destination || !this.#o.sendToQueue) {
      this.#outcome(rule, target, "function-error-dropped", attempts, result.errorType);
      return;
    }
    const record = {
      version: "1.0",
      timestamp: new Date().toISOString(),
      requestContext: {
        requestId: randomUUID(),
        functionArn: `${target.arn}:$LATEST`,
        condition: "RetriesExhausted",
        approximateInvokeCount: attempts,
      },
      requestPayload: payload,
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      responsePayload: { errorType: result.errorType, errorMessage: result.errorMessage },
    };
    await this.#o.sendToQueue(destination, JSON.stringify(record), {});
    this.#outcome(rule, target, "function-error-sent-on-failure", attempts, result.errorType);
  }

  async #deadLetter(rule: RuleModel, target: TargetModel, event: unknown, error: string, attempts: number) {
    if (!target.deadLetterArn || !this.#o.sendToQueue) {
      this.#outcome(rule, target, "dropped", attempts, error);
      return;
    }
    await this.#o.sendToQueue(target.deadLetterArn, JSON.stringify(event), {
      RULE_ARN: rule.arn,
      TARGET_ARN: target.arn,
      ERROR_CODE: "SDK_CLIENT_ERROR",
      ERROR_MESSAGE: error,
      EXHAUSTED_RETRY_CONDITION: "MaximumRetryAttemptsExhausted",
      RETRY_ATTEMPTS: String(attempts - 1),
    });
    this.#outcome(rule, target, "dead-lettered", attempts, error);
  }

  #outcome(
    rule: RuleModel,
    target: TargetModel,
    result: DeliveryOutcome["result"],
    attempts: number,
    error?: string,
  ) {
    this.#o.onOutcome?.({ rule: rule.name, target: target.id, result, attempts, ...(error && { error }) });
  }
}
