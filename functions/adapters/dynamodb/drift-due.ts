/**
 * The drift schedule's index: a sparse GSI (`gsi5`) holding only `succeeded` tenants, keyed by
 * their phase (`DRIFT#<phase>`) and, as sort key, the tick they were last claimed for (or when
 * they became `succeeded`). A tick reads only the tenants of its phases not yet claimed for it,
 * and claims each on the tenant item (a conditional write moving the sort key to the tick)
 * before starting its check: a replayed event, a retried fan-out or a second timer finds nothing
 * left to start, and a missed tick's tenants are still there when it is caught up.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { type DriftDue, type DueTenant, tenantPhase } from "../../domain/drift-ticks.ts";
import type { TenantStatus } from "../../domain/tenant.ts";
import { tenantKey } from "./keys.ts";
import { isConditionFailure, queryIndexBefore, type TableContext } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";
import type { UpdateExpression } from "./update-expression.ts";

const INDEX = TABLE_INDEXES.driftDue;

/** The tenant item's attributes of the drift index (removed whenever it is not `succeeded`). */
export const DRIFT_DUE_ATTRIBUTES = [INDEX.partitionKey, INDEX.sortKey] as const;

export const driftPhasePk = (phase: number) => `DRIFT#${String(phase).padStart(2, "0")}`;

/** Puts the tenant in the drift index when it becomes `succeeded`, takes it out otherwise. */
export function setDriftDue(u: UpdateExpression, tenantId: string, status: TenantStatus, now: string): void {
  if (status === "succeeded") {
    u.set(u.path(INDEX.partitionKey), u.value(driftPhasePk(tenantPhase(tenantId))));
    u.set(u.path(INDEX.sortKey), u.value(now));
  } else {
    for (const name of DRIFT_DUE_ATTRIBUTES) u.remove(u.path(name));
  }
}

const MARKER_KEY = { pk: "SCHEDULE#drift", sk: "SCHEDULE" };

export class DynamoDriftDue implements DriftDue {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  async due(phase: number, tick: string): Promise<DueTenant[]> {
    const out: DueTenant[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await queryIndexBefore(this.#ctx, INDEX, driftPhasePk(phase), tick, {
        ...(startKey && { startKey }),
      });
      for (const item of page.Items ?? []) {
        out.push({
          tenantId: String(item["pk"]).slice("TENANT#".length),
          since: String(item[INDEX.sortKey]),
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return out;
  }

  async claim(tenant: DueTenant, tick: string): Promise<boolean> {
    return this.#move(tenant.tenantId, tenant.since, tick);
  }

  async release(tenant: DueTenant, tick: string): Promise<void> {
    await this.#move(tenant.tenantId, tick, tenant.since);
  }

  /** Moves the sort key from `from` to `to` if it is still `from` and the tenant `succeeded`. */
  async #move(tenantId: string, from: string, to: string): Promise<boolean> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: tenantKey(tenantId),
          UpdateExpression: "SET #sk = :to",
          ConditionExpression: "#sk = :from AND #status = :succeeded",
          ExpressionAttributeNames: { "#sk": INDEX.sortKey, "#status": "status" },
          ExpressionAttributeValues: { ":from": from, ":to": to, ":succeeded": "succeeded" },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Tenants that were `succeeded` before the drift index existed have no index keys: enrols them
   * once (a page of `listSucceeded` per call, its cursor kept in a marker item), so an upgraded
   * table's fleet joins the schedule within a few ticks. True once every tenant is enrolled.
   */
  async enrolEarlier(
    listSucceeded: (cursor?: string) => Promise<{ tenantIds: string[]; nextCursor?: string }>,
    now: string,
  ): Promise<boolean> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: MARKER_KEY }),
    );
    if (Item?.["done"] === true) return true;
    const cursor = typeof Item?.["cursor"] === "string" ? Item["cursor"] : undefined;
    const page = await listSucceeded(cursor);
    for (const tenantId of page.tenantIds) {
      await this.#ctx.client
        .send(
          new UpdateCommand({
            TableName: this.#ctx.table,
            Key: tenantKey(tenantId),
            UpdateExpression: "SET #pk = :pk, #sk = :now",
            ConditionExpression: "attribute_not_exists(#pk) AND #status = :succeeded",
            ExpressionAttributeNames: {
              "#pk": INDEX.partitionKey,
              "#sk": INDEX.sortKey,
              "#status": "status",
            },
            ExpressionAttributeValues: {
              ":pk": driftPhasePk(tenantPhase(tenantId)),
              ":now": now,
              ":succeeded": "succeeded",
            },
          }),
        )
        .catch((err: unknown) => {
          if (!isConditionFailure(err)) throw err;
        });
    }
    const done = page.nextCursor === undefined;
    await this.#ctx.client.send(
      new PutCommand({
        TableName: this.#ctx.table,
        Item: { ...MARKER_KEY, done, ...(page.nextCursor && { cursor: page.nextCursor }) },
      }),
    );
    return done;
  }
}
