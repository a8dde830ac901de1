/**
 * When a failed delivery is tried again: the retry schedule (Standard Webhooks' example by
 * default), jitter, and `Retry-After`.
 */

/**
 * Delays of the retries after the first, immediate attempt, each counted from the previous
 * attempt: the Standard Webhooks example (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h), i.e. 8 attempts over about 27.5 hours.
 */
export const DEFAULT_RETRY_SCHEDULE_MS: readonly number[] = [
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
];

/** Longest wait between two attempts: an SQS message cannot stay invisible beyond 12 hours. */
export const MAX_RETRY_DELAY_MS = 11 * 3_600_000;

/** Spread of each delay: a delay d becomes a uniform value in [d(1 - JITTER), d(1 + JITTER)]. */
export const JITTER = 0.2;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a retry schedule such as `"5s,5m,30m,2h"` (units ms, s, m, h, d; a bare number is
 * seconds) into milliseconds. An empty schedule means a single attempt.
 *
 * @example parseRetrySchedule("5s,5m,30m") // [5000, 300000, 1800000]
 */
export function parseRetrySchedule(text: string): number[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  return trimmed.split(",").map((part) => {
    const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(part);
    if (!match) throw new RangeError(`Invalid retry delay "${part.trim()}" (expected e.g. 5s, 5m, 2h)`);
    const ms = Math.round(Number(match[1]) * UNIT_MS[match[2] ?? "s"]!);
    if (ms > MAX_RETRY_DELAY_MS) throw new RangeError(`Retry delay "${part.trim()}" exceeds 11h`);
    return ms;
  });
}

/** The schedule from `WEBHOOK_RETRY_SCHEDULE` when set, else the default. */
export function retryScheduleFromEnv(env: NodeJS.ProcessEnv = process.env): readonly number[] {
  const value = env["WEBHOOK_RETRY_SCHEDULE"];
  return value === undefined ? DEFAULT_RETRY_SCHEDULE_MS : parseRetrySchedule(value);
}

/**
 * The wait before the next attempt after `failedAttempts` attempts of this round failed, or
 * undefined when the schedule is exhausted. `retryAfterMs` (from a 429/503) lengthens it, never
 * shortens it; the result is capped at MAX_RETRY_DELAY_MS.
 */
export function nextRetryDelay(
  schedule: readonly number[],
  failedAttempts: number,
  options: { retryAfterMs?: number; random?: () => number } = {},
): number | undefined {
  const base = schedule[failedAttempts - 1];
  if (base === undefined) return undefined;
  const random = options.random ?? Math.random;
  const jittered = base * (1 + JITTER * (2 * random() - 1));
  return Math.round(Math.min(MAX_RETRY_DELAY_MS, Math.max(jittered, options.retryAfterMs ?? 0)));
}
