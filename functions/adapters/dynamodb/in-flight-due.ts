/**
 * The stranded-run sweep's entries in the drift schedule's sparse index (`gsi5`, no index of its
 * own): while a tenant is `queued`, `running` or `offboarding`, its item has `gsi5pk` =
 * `INFLIGHT#<shard 00-15>` and `gsi5sk` = `<quiet since>#<looks>`: when its status last changed
 * (or, once the sweep found its run alive, a time pushed out by the backoff), and how often it was
 * looked at. Every other status gives the item the drift keys or none (`drift-due.ts`), so the
 * sweep reads only in-flight tenants whose position is old enough, a page at a time, and claims
 * each by a conditional write of its position before it asks the engine about it.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { InFlightDue, InFlightEntry } from "../../domain/stranded-sweep.ts";
import type { TenantStatus } from "../../domain/tenant.ts";
import { IN_FLIGHT } from "../../domain/workflow-runs.ts";
import { setDriftDue } from "./drift-due.ts";
import { OPS_LIST_SHARDS, shardOf, tenantKey } from "./keys.ts";
import { isConditionFailure, queryIndexBefore, type TableContext } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";
import type { UpdateExpression } from "./update-expression.ts";

const INDEX = TABLE_INDEXES.driftDue;
const SHARDS = OPS_LIST_SHARDS;

export const inFlightPk = (shard: number) => `INFLIGHT#${String(shard).padStart(2, "0")}`;

/** `<ISO time>#<looks, 2 digits>`: sorts by time (ISO times have one length), then looks. */
export const inFlightPosition = (since: string, looks: number) =>
  `${since}#${String(Math.min(looks, 99)).padStart(2, "0")}`;

/**
 * The index keys of a tenant whose status becomes `status` at `now`: the in-flight entry for a
 * status a workflow holds, the drift entry for `succeeded`, none otherwise.
 */
export function setScheduleKeys(
  u: UpdateExpression,
  tenantId: string,
  status: TenantStatus,
  now: string,
): void {
  if (IN_FLIGHT[status]) {
    u.set(u.path(INDEX.partitionKey), u.value(inFlightPk(shardOf(tenantId, SHARDS))));
    u.set(u.path(INDEX.sortKey), u.value(inFlightPosition(now, 0)));
  } else {
    setDriftDue(u, tenantId, status, now);
  }
}

export class DynamoInFlightDue implements InFlightDue {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  /** Up to `limit` entries quiet since before `before`, oldest first (every shard, one Query each). */
  async due(before: string, limit: number): Promise<InFlightEntry[]> {
    const pages = await Promise.all(
      Array.from({ length: SHARDS }, (_, shard) =>
        queryIndexBefore(this.#ctx, INDEX, inFlightPk(shard), before, { limit }),
      ),
    );
    const entries = pages.flatMap((page) =>
      (page.Items ?? []).map((item) => {
        const position = String(item[INDEX.sortKey]);
        return {
          tenantId: String(item["pk"]).slice("TENANT#".length),
          position,
          looks: Number(position.split("#")[1] ?? 0) || 0,
        };
      }),
    );
    return entries.sort((a, b) => (a.position < b.position ? -1 : 1)).slice(0, limit);
  }

  /** Moves the entry to `since` with `looks` if it is still where it was read; false otherwise. */
  async postpone(entry: InFlightEntry, since: string, looks: number): Promise<boolean> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: tenantKey(entry.tenantId),
          UpdateExpression: "SET #sk = :to",
          ConditionExpression: "#sk = :from AND begins_with(#pk, :inflight)",
          ExpressionAttributeNames: { "#sk": INDEX.sortKey, "#pk": INDEX.partitionKey },
          ExpressionAttributeValues: {
            ":from": entry.position,
            ":to": inFlightPosition(since, looks),
            ":inflight": "INFLIGHT#",
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }
}

const MARKER_KEY = { pk: "SCHEDULE#inflight", sk: "SCHEDULE" };

/** A tenant as the enrolment lists it. */
export interface ListedInFlight {
  tenantId: string;
  status: TenantStatus;
  updatedAt: string;
}

/**
 * Tenants that were in flight before the sweep's entries existed have none until their next
 * status change: enrols them once (a page of `listInFlight` per call, its cursor kept in a marker
 * item), quiet since their last update. True once every tenant is enrolled.
 */
export async function enrolEarlierInFlight(
  ctx: TableContext,
  listInFlight: (cursor?: string) => Promise<{ tenants: ListedInFlight[]; nextCursor?: string }>,
): Promise<boolean> {
  const { Item } = await ctx.client.send(new GetCommand({ TableName: ctx.table, Key: MARKER_KEY }));
  if (Item?.["done"] === true) return true;
  const page = await listInFlight(typeof Item?.["cursor"] === "string" ? Item["cursor"] : undefined);
  for (const tenant of page.tenants) {
    await ctx.client
      .send(
        new UpdateCommand({
          TableName: ctx.table,
          Key: tenantKey(tenant.tenantId),
          UpdateExpression: "SET #pk = :pk, #sk = :sk",
          ConditionExpression: "attribute_not_exists(#pk) AND #status = :status",
          ExpressionAttributeNames: { "#pk": INDEX.partitionKey, "#sk": INDEX.sortKey, "#status": "status" },
          ExpressionAttributeValues: {
            ":pk": inFlightPk(shardOf(tenant.tenantId, SHARDS)),
            ":sk": inFlightPosition(tenant.updatedAt, 0),
            ":status": tenant.status,
          },
        }),
      )
      .catch((err: unknown) => {
        if (!isConditionFailure(err)) throw err;
      });
  }
  const done = page.nextCursor === undefined;
  await ctx.client.send(
    new PutCommand({
      TableName: ctx.table,
      Item: { ...MARKER_KEY, done, ...(page.nextCursor && { cursor: page.nextCursor }) },
    }),
  );
  return done;
}
