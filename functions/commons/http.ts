/** Small HTTP helpers shared by our clients (Microsoft 365, webhook delivery, the ops CLI). */

/**
 * Parses `Retry-After` (delay-seconds, tolerating a fraction, or an HTTP date) into
 * milliseconds from `now`; undefined when absent or unreadable. Callers apply their own caps.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
