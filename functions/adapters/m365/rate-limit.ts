/**
 * Pacing on Exchange's `Rate-Limit-*` response headers, where an answer carries them: when
 * `Rate-Limit-Remaining` is down to what the requests still in flight may use (`reserve`: the
 * tenant's other request slots), the tenant's requests wait until `Rate-Limit-Reset` (an RFC
 * 3339 time or an HTTP date; a number is read as seconds from now). Sources:
 * terraprovider/go-exoscc adminapi/invoke.go (`parseRateLimit`: `Rate-Limit-Limit`,
 * `-Remaining`, `-Reset` as RFC 3339), GreyCorbel/ExoHelper Invoke-ExoCommand.ps1
 * (`-ShowRateLimits` reads `Rate-Limit-Remaining` and `Rate-Limit-Reset`).
 */
import type { TenantHolds } from "./tenant-holds.ts";

/** A reset beyond this is not believed (a clock far off, a misread header). */
const MAX_PACE_MS = 15 * 60_000;

export function paceOnRateLimit(
  holds: TenantHolds,
  tenantId: string,
  headers: Headers,
  reserve = 0,
  now = Date.now(),
): void {
  const remaining = headers.get("rate-limit-remaining");
  if (remaining === null || remaining.trim() === "" || Number(remaining) > reserve) return;
  const reset = headers.get("rate-limit-reset")?.trim();
  if (!reset) return;
  const at = /^\d+(\.\d+)?$/.test(reset) ? now + Number(reset) * 1000 : Date.parse(reset);
  if (!Number.isFinite(at)) return;
  const wait = at - now;
  if (wait > 0) holds.hold(tenantId, Math.min(wait, MAX_PACE_MS));
}
