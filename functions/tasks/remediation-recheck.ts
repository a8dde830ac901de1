/**
 * A drift remediation run that succeeded checks the tenant again before it ends, so that the
 * tenant's drift result, `GET .../drift` and `tenant.drift.resolved` say at once that it is
 * back in sync instead of waiting for the next scheduled check. The check is the ordinary
 * drift check (reads only); one that cannot read leaves the result as it was, and the next
 * scheduled or requested check records it.
 */
import type { StoredTenant } from "../domain/store.ts";

export async function recheckAfterRemediation(
  run: StoredTenant,
  checkDrift: () => Promise<unknown>,
  onError: (err: unknown) => void = () => undefined,
): Promise<void> {
  if (run.internals.requestedBy !== "drift-remediation") return;
  try {
    await checkDrift();
  } catch (err) {
    onError(err);
  }
}
