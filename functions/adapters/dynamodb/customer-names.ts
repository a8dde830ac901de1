/**
 * `customerName` reservations: one item per slug, `CUSTOMER#<customerName>` / `CUSTOMER`, naming
 * the partner whose bound tenants hold it and those tenants (`tenants`), with a `version` that
 * every write checks. A slug is reserved when a tenant is bound, never by a claim. A partner may
 * use its slug for several of its tenants. Another partner's binding may take it only when none
 * of those tenants is still bound with it (offboarded for good, renamed by PATCH, or its record
 * expired), or when it is the same tenant moving between partners. A reservation written by an
 * earlier version at claim time (a partner, no tenants) holds nothing for another partner. So
 * nothing has to be released explicitly.
 */
import { GetCommand, PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { tenantKey } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";

export const customerNameKey = (customerName: string) => ({
  pk: `CUSTOMER#${customerName}`,
  sk: "CUSTOMER",
});

/** Rounds of read and conditional write, one per binding of the slug that wrote first. */
const MAX_RESERVE_ATTEMPTS = 50;

interface Reservation {
  partnerId: string;
  tenants?: string[];
  version?: number;
}

export class CustomerNames {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  /**
   * Reserves the slug for the partner's bound tenant: true when it is theirs (newly or already,
   * also for the same tenant moving from another partner), false when another partner's bound
   * tenant holds it. A write that lost the version check (another binding of the slug wrote
   * between the read and the write) reads again: each loss is another binding's progress, so
   * bindings of one slug at once (a customer's tenants consenting together) all get it.
   */
  async reserve(customerName: string, tenantId: string, partnerId: string, now: string): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_RESERVE_ATTEMPTS; attempt++) {
      const { Item } = await this.#ctx.client.send(
        new GetCommand({
          TableName: this.#ctx.table,
          Key: customerNameKey(customerName),
          ConsistentRead: true,
        }),
      );
      const current = Item as Reservation | undefined;
      const holders = current?.tenants ?? [];
      let tenants: string[];
      if (current?.partnerId === partnerId) {
        if (holders.includes(tenantId)) return true;
        tenants = [...holders, tenantId];
      } else if (!current || holders.includes(tenantId)) {
        tenants = [tenantId];
      } else {
        const live = await Promise.all(holders.map((h) => this.#holds(h, customerName)));
        if (live.some(Boolean)) return false;
        tenants = [tenantId];
      }
      if (await this.#write(customerName, { partnerId, tenants }, current, now)) return true;
    }
    // Not "taken": the slug may well be this partner's. The caller's request fails and can be retried.
    throw new Error(`customerName ${customerName}: more than ${MAX_RESERVE_ATTEMPTS} bindings of it at once`);
  }

  /** Whether the tenant's record is bound (not offboarded) with this slug. */
  async #holds(tenantId: string, customerName: string): Promise<boolean> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({
        TableName: this.#ctx.table,
        Key: tenantKey(tenantId),
        ConsistentRead: true,
        ProjectionExpression: "#s, customerName",
        ExpressionAttributeNames: { "#s": "status" },
      }),
    );
    return Item !== undefined && Item["status"] !== "offboarded" && Item["customerName"] === customerName;
  }

  /** Writes the reservation on the condition that it is still `seen`. */
  async #write(
    customerName: string,
    next: { partnerId: string; tenants: string[] },
    seen: Reservation | undefined,
    now: string,
  ): Promise<boolean> {
    const version = (seen?.version ?? 0) + 1;
    const condition = !seen
      ? { ConditionExpression: "attribute_not_exists(pk)" }
      : seen.version === undefined
        ? { ConditionExpression: "attribute_not_exists(version)" }
        : { ConditionExpression: "version = :v", ExpressionAttributeValues: { ":v": seen.version } };
    try {
      await this.#ctx.client.send(
        new PutCommand({
          TableName: this.#ctx.table,
          Item: {
            ...customerNameKey(customerName),
            kind: "customerName",
            customerName,
            ...next,
            version,
            updatedAt: now,
          },
          ...condition,
        }),
      );
      return true;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      return false;
    }
  }
}

/**
 * The migration from claim-time reservations: reserves the slug of every bound tenant (oldest
 * first, so that of two partners' tenants sharing a slug the older keeps it). Idempotent. The local runtime
 * runs it once at start; in AWS run it once after deploying (docs/operating.md). Returns how many
 * tenants hold their slug, and the tenants whose slug another tenant holds.
 */
export async function reserveBoundCustomerNames(
  ctx: TableContext,
  now: string,
): Promise<{ reserved: number; conflicts: { tenantId: string; customerName: string }[] }> {
  const tenants: { tenantId: string; partnerId: string; customerName: string; createdAt: string }[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await ctx.client.send(
      new ScanCommand({
        TableName: ctx.table,
        FilterExpression: "kind = :tenant AND #s <> :offboarded",
        ProjectionExpression: "tenantId, partnerId, customerName, createdAt",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":tenant": "tenant", ":offboarded": "offboarded" },
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    for (const item of page.Items ?? []) tenants.push(item as (typeof tenants)[number]);
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  tenants.sort((x, y) => x.createdAt.localeCompare(y.createdAt));
  const names = new CustomerNames(ctx);
  const conflicts: { tenantId: string; customerName: string }[] = [];
  let reserved = 0;
  for (const { tenantId, partnerId, customerName } of tenants) {
    if (await names.reserve(customerName, tenantId, partnerId, now)) reserved++;
    else conflicts.push({ tenantId, customerName });
  }
  return { reserved, conflicts };
}

/** The migration, with its conflicts logged (tenant ids and slugs only). */
export async function reserveCustomerNamesAtStart(
  ctx: TableContext,
  logger: { info(message: string): void; warn(message: string, extra: Record<string, unknown>): void },
): Promise<void> {
  const { reserved, conflicts } = await reserveBoundCustomerNames(ctx, new Date().toISOString());
  logger.info(`customerName reservations: ${reserved} bound tenants hold their slug`);
  for (const conflict of conflicts) {
    logger.warn(
      "customerName held by an older bound tenant of another partner; this tenant keeps running but its slug is not reserved",
      conflict,
    );
  }
}
