/**
 * API Gateway's throttling: token buckets (capacity = burst limit, refilled at the rate limit
 * per second). A stage's method settings give each method its own bucket (`/*\/*` is the default
 * of every method, not one bucket for the stage); a usage plan's throttle gives each API key in
 * it its own bucket. A request passes only if every bucket that applies has a token.
 */
import type { Throttle } from "./model.ts";

interface Bucket {
  tokens: number;
  at: number;
  throttle: Throttle;
}

export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Takes one token from each bucket, or none when any of them is empty. */
  take(keys: { key: string; throttle: Throttle }[]): boolean {
    const now = this.#now();
    const buckets = keys.map(({ key, throttle }) => {
      let bucket = this.#buckets.get(key);
      if (
        !bucket ||
        bucket.throttle.rateLimit !== throttle.rateLimit ||
        bucket.throttle.burstLimit !== throttle.burstLimit
      ) {
        bucket = { tokens: throttle.burstLimit, at: now, throttle };
        this.#buckets.set(key, bucket);
      }
      const elapsed = Math.max(0, now - bucket.at) / 1000;
      bucket.tokens = Math.min(throttle.burstLimit, bucket.tokens + elapsed * throttle.rateLimit);
      bucket.at = now;
      return bucket;
    });
    if (buckets.some((b) => b.tokens < 1)) return false;
    for (const b of buckets) b.tokens -= 1;
    return true;
  }
}

/** The stage's throttle of a method: its own method setting, else the stage default (`/*\/*`). */
export function methodThrottle(
  settings: Map<string, Throttle>,
  resourcePath: string,
  httpMethod: string,
): Throttle | undefined {
  return (
    settings.get(`${resourcePath}/${httpMethod}`) ?? settings.get(`${resourcePath}/*`) ?? settings.get("/*/*")
  );
}
