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
  try {
    await ctx.client.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: tenantKey(tenantId),
        UpdateExpression: "SET #claim = :until",
        ConditionExpression: "attribute_exists(pk) AND (attribute_not_exists(#claim) OR #claim < :now)",
        ExpressionAttributeNames: { "#claim": DRIFT_CHECK_CLAIM },
        ExpressionAttributeValues: { ":until": until, ":now": now.toISOString() },
      }),
    );
    return until;
  } catch (err) {
    if (isConditionFailure(err)) return undefined;
    throw err;
  }
}

/** Removes the claim if it is still `claim` (a check that could not be started). */
export async function releaseDriftCheck(ctx: TableContext, tenantId: string, claim: string): Promise<void> {
  try {
    await ctx.client.send(
      new UpdateCommand({
        TableName: ctx.table,
        Key: tenantKey(tenantId),
        UpdateExpression: "REMOVE #claim",
        ConditionExpression: "#claim = :claim",
        ExpressionAttributeNames: { "#claim": DRIFT_CHECK_CLAIM },
        ExpressionAttributeValues: { ":claim": claim },
      }),
    );
  } catch (err) {
    if (!isConditionFailure(err)) throw err;
  }
}
