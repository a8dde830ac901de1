/**
 * Behaviour `rateLimit` (`{ limit, windowMs }`, off by default): each tenant may make `limit`
 * InvokeCommand requests per window; every answer carries `Rate-Limit-Limit`,
 * `Rate-Limit-Remaining` and `Rate-Limit-Reset` (RFC 3339), and a request beyond the limit is
 * answered 429 with `Retry-After`. The header names: terraprovider/go-exoscc adminapi/invoke.go
 * (`parseRateLimit`), GreyCorbel/ExoHelper Invoke-ExoCommand.ps1 (`-ShowRateLimits`); when
 * Exchange sends them, the window and the 429 are assumed.
 */
const windows = new Map<string, { start: number; used: number }>();

export interface RateLimitVerdict {
  headers: Record<string, string>;
  /** Seconds to wait, when the request is beyond the limit. */
  retryAfterSeconds?: number;
}

export function rateLimit(
  key: string,
  setting: { limit: number; windowMs: number } | null | undefined,
  now: number,
): RateLimitVerdict {
  if (!setting || setting.limit <= 0 || setting.windowMs <= 0) return { headers: {} };
  let w = windows.get(key);
  if (!w || now - w.start >= setting.windowMs) {
    w = { start: now, used: 0 };
    windows.set(key, w);
    if (windows.size > 10_000) windows.delete(windows.keys().next().value as string);
  }
  const reset = w.start + setting.windowMs;
  const over = w.used >= setting.limit;
  if (!over) w.used += 1;
  const headers = {
    "rate-limit-limit": String(setting.limit),
    "rate-limit-remaining": String(Math.max(0, setting.limit - w.used)),
    "rate-limit-reset": new Date(reset).toISOString(),
  };
  return over ? { headers, retryAfterSeconds: Math.max(1, Math.ceil((reset - now) / 1000)) } : { headers };
}
