/**
 * Per-partner request limits in process: a token bucket per caller (each partner, ops, and one
 * bucket per client address for traffic without a valid key: the public routes (health, the
 * consent callback, the console's files) and requests with a bad key). Past its limit a caller
 * gets a 429 `rate-limited` with `Retry-After`; other callers are not affected: nobody without
 * a key can use up a customer's or a partner's limit. The local runtime uses this; in AWS the same limits are API Gateway usage plans
 * (one API key per partner, chosen by the authorizer), enforced before the API function runs.
 */
import { HttpError } from "./errors.ts";

export interface RateLimit {
  /** Steady requests per second. */
  ratePerSecond: number;
  /** Requests allowed at once above the steady rate (the bucket's size). */
  burst: number;
}

/** The defaults of `PARTNER_RATE_LIMIT_RPS` / `PARTNER_RATE_LIMIT_BURST` (and of the AWS usage plan). */
export const DEFAULT_PARTNER_RATE_LIMIT: RateLimit = { ratePerSecond: 25, burst: 50 };

/** Buckets kept at most; idle full ones are dropped first. */
const MAX_BUCKETS = 10_000;

export class TooManyRequestsError extends HttpError {
  override readonly name = "TooManyRequestsError";
  constructor(retryAfterSeconds: number, who = "This key's") {
    super(
      429,
      "rate-limited",
      "Too Many Requests",
      `${who} request rate limit is exceeded; retry after ${retryAfterSeconds} s.`,
      { headers: { "retry-after": String(retryAfterSeconds) } },
    );
  }
}

/** The caller's bucket: its partner id, `ops`, or `anonymous:<client address>`. */
export type RateLimitSubject = string;
const ANONYMOUS_PREFIX = "anonymous:";

/** The bucket of requests without a valid key from one client address. */
export function anonymousSubject(address: string | undefined): RateLimitSubject {
  return `${ANONYMOUS_PREFIX}${address || "unknown"}`;
}

/**
 * Token buckets by subject.
 *
 * @example
 * const limiter = new RateLimiter({ ratePerSecond: 25, burst: 50 });
 * limiter.take("p_123"); // throws TooManyRequestsError (429, Retry-After) past the limit
 */
export class RateLimiter {
  readonly limit: RateLimit;
  readonly #now: () => number;
  readonly #buckets = new Map<RateLimitSubject, { tokens: number; at: number }>();

  constructor(limit: RateLimit, now: () => number = Date.now) {
    if (!(limit.ratePerSecond > 0) || !(limit.burst >= 1)) {
      throw new Error("a rate limit needs ratePerSecond > 0 and burst >= 1");
    }
    this.limit = limit;
    this.#now = now;
  }

  /** Takes one token from the subject's bucket; throws TooManyRequestsError when it is empty. */
  take(subject: RateLimitSubject): void {
    const now = this.#now();
    const { ratePerSecond, burst } = this.limit;
    const bucket = this.#buckets.get(subject) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * ratePerSecond);
    bucket.at = now;
    if (bucket.tokens < 1) {
      this.#buckets.set(subject, bucket);
      throw new TooManyRequestsError(
        Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerSecond)),
        subject.startsWith(ANONYMOUS_PREFIX) ? "This address's (requests without a valid key)" : undefined,
      );
    }
    bucket.tokens -= 1;
    this.#buckets.delete(subject); // re-inserted last: the map stays ordered by last use
    this.#buckets.set(subject, bucket);
    if (this.#buckets.size > MAX_BUCKETS) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }
}

/** `PARTNER_RATE_LIMIT_RPS` / `PARTNER_RATE_LIMIT_BURST`, with the defaults; throws on nonsense. */
export function rateLimitFromEnv(env: Record<string, string | undefined>): RateLimit {
  const read = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
    return value;
  };
  return {
    ratePerSecond: read("PARTNER_RATE_LIMIT_RPS", DEFAULT_PARTNER_RATE_LIMIT.ratePerSecond),
    burst: Math.max(1, Math.floor(read("PARTNER_RATE_LIMIT_BURST", DEFAULT_PARTNER_RATE_LIMIT.burst))),
  };
}
