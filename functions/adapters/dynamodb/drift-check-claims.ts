/**
 * One on-demand drift check at a time per tenant: `POST .../drift-checks` claims the check on the
 * tenant item (`driftCheckUntil`, one conditional UpdateItem) before it starts one, and the
 * check's result (any transition that records `drift`) removes the claim. A request while a
 * check runs starts nothing (that check answers it), so a partner looping on the route cannot
 * pile up executions of the shared task function. A check that never records its result (its
 * execution failed) frees the tenant when the claim lapses.
 */
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { tenantKey } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";

/** The tenant item's attribute holding the claim: until when (ISO) a started check may run. */
export const DRIFT_CHECK_CLAIM = "driftCheckUntil";

/** How long a claim holds at most: an Express execution (a drift check) lasts 5 minutes at most. */
export const DRIFT_CHECK_CLAIM_MS = 5 * 60_000;

/** The claim (to release it by), or undefined when a check claimed earlier still runs. */
export async function claimDriftCheck(
  ctx: TableContext,
  tenantId: string,
  now: Date,
): Promise<string | undefined> {
  const until = new Date(now.getTime() + DRIFT_CHECK_CLAIM_MS).toISOString();
  const claimed = await updateIf(ctx, tenantId, {
    update: "SET #claim = :until",
    condition: "attribute_exists(pk) AND (attribute_not_exists(#claim) OR #claim < :now)",
    values: { ":until": until, ":now": now.toISOString() },
  });
  return claimed ? until : undefined;
}

/** Removes the claim if it is still `claim` (a check that could not be started). */
export async function releaseDriftCheck(ctx: TableContext, tenantId: string, claim: string): Promise<void> {
  await updateIf(ctx, tenantId, {
    update: "REMOVE #claim",
    condition: "#claim = :claim",
    values: { ":claim": claim },
  });
}

/** One conditional update of the claim on the tenant item; false when the condition failed. */
async function updateIf(
  ctx: TableContext,
  tenantId: string,
  write: { update: string; condition: string; values: Record<string, string> },
): Promise<boolean> {
  try {
    await ctx.client.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: tenantKey(tenantId),
        UpdateExpression: write.update,
        ConditionExpression: write.condition,
        ExpressionAttributeNames: { "#claim": DRIFT_CHECK_CLAIM },
        ExpressionAttributeValues: write.values,
      }),
    );
    return true;
  } catch (err) {
    if (isConditionFailure(err)) return false;
    throw err;
  }
}
