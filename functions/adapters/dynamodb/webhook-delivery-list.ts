/**
 * Delivery lists, newest first: a partner's (byPartner index), everyone's (all index, ops), or
 * one tenant's (its partition, newest sequence first; narrowed to a partner when given), with
 * cursors bound to the list they were issued for.
 */
import { GetCommand, QueryCommand, type QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import type { Page } from "../../domain/store.ts";
import type { CursorCodec } from "./cursor.ts";
import {
  allDeliveriesPk,
  DELIVERY_SK_PREFIX,
  deliveriesPk,
  deliveryKey,
  OPS_LIST_SHARDS,
  PARTNER_LIST_SHARDS,
  partnerDeliveriesPk,
  shards,
  tenantKey,
} from "./keys.ts";
import { queryNewestFirst, type ShardedList } from "./newest-first.ts";
import type { TableContext } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";
import { type DeliveryRecord, isDeliveryPosition, toDelivery } from "./webhook-records.ts";

export interface DeliveryListQuery {
  partnerId?: string;
  tenantId?: string;
  /** With `tenantId`: only deliveries of this sequence and later (the owner's registration). */
  fromSequence?: number;
  limit: number;
  cursor?: string;
}

/**
 * The partner the tenant is registered to and the first sequence of its registration (one
 * small read of the tenant item), so that a partner's delivery list filtered by tenant reads
 * nothing of a tenant that is not its own, nor a previous owner's deliveries.
 */
export async function tenantOwner(
  ctx: TableContext,
  tenantId: string,
): Promise<{ partnerId: string; firstSequence: number; sequenceOffset: number } | undefined> {
  const { Item } = await ctx.client.send(
    new GetCommand({
      TableName: ctx.table,
      Key: tenantKey(tenantId),
      ProjectionExpression: "partnerId, firstSequence, sequenceOffset",
      ConsistentRead: true,
    }),
  );
  if (typeof Item?.["partnerId"] !== "string") return undefined;
  const first = Number(Item["firstSequence"]);
  const offset = Number(Item["sequenceOffset"] ?? 0);
  return {
    partnerId: Item["partnerId"],
    firstSequence: Number.isInteger(first) && first > 0 ? first : 1,
    sequenceOffset: Number.isInteger(offset) && offset > 0 ? offset : 0,
  };
}

/** Throws InvalidCursorError for a cursor not issued for the same list. */
export async function listDeliveries(
  ctx: TableContext,
  cursors: CursorCodec,
  query: DeliveryListQuery,
): Promise<Page<DeliveryRecord>> {
  const { limit } = query;
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError("limit must be 1-100");
  if (query.tenantId !== undefined)
    return listTenantDeliveries(ctx, cursors, { ...query, tenantId: query.tenantId });
  const { partnerId } = query;
  const list: ShardedList =
    partnerId === undefined
      ? {
          index: TABLE_INDEXES.all,
          partitions: shards(OPS_LIST_SHARDS, allDeliveriesPk),
          scope: "deliveries|*",
          isPosition: isDeliveryPosition,
        }
      : {
          index: TABLE_INDEXES.byPartner,
          partitions: shards(PARTNER_LIST_SHARDS, (n) => partnerDeliveriesPk(partnerId, n)),
          scope: `deliveries|${partnerId}`,
          isPosition: isDeliveryPosition,
        };
  const page = await queryNewestFirst<Record<string, unknown>>(ctx, cursors, list, query);
  return { items: page.items.map(toDelivery), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
}

/** One tenant's partition, newest sequence first. */
async function listTenantDeliveries(
  ctx: TableContext,
  cursors: CursorCodec,
  query: DeliveryListQuery & { tenantId: string },
): Promise<Page<DeliveryRecord>> {
  const { limit } = query;
  const pk = deliveriesPk(query.tenantId);
  const scope = `deliveries|tenant|${query.tenantId}|${query.partnerId ?? "*"}`;
  const input: QueryCommandInput =
    query.fromSequence === undefined
      ? {
          TableName: ctx.table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: { ":pk": pk, ":prefix": DELIVERY_SK_PREFIX },
          ScanIndexForward: false,
        }
      : {
          // Only the caller's own registration: older deliveries are not even read.
          TableName: ctx.table,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: {
            ":pk": pk,
            ":from": deliveryKey(query.tenantId, query.fromSequence).sk,
            ":to": deliveryKey(query.tenantId, 9_999_999_999).sk,
          },
          ScanIndexForward: false,
        };
  if (query.partnerId !== undefined) {
    input.FilterExpression = "#partner = :partner";
    input.ExpressionAttributeNames = { "#partner": "partnerId" };
    input.ExpressionAttributeValues![":partner"] = query.partnerId;
  }
  let startKey: Record<string, unknown> | undefined;
  if (query.cursor !== undefined) {
    const position = cursors.decode(scope, query.cursor, (p) => /^DELIVERY#[0-9]{10}$/.test(p));
    startKey = { pk, sk: position };
  }
  const collected: Record<string, unknown>[] = [];
  // One item more than asked tells whether a next page exists; a filter applies after
  // DynamoDB's Limit, so read on until the page is full.
  do {
    const result = await ctx.client.send(
      new QueryCommand({
        ...input,
        Limit: input.FilterExpression ? 200 : limit + 1 - collected.length,
        ...(startKey && { ExclusiveStartKey: startKey }),
      }),
    );
    collected.push(...(result.Items ?? []));
    startKey = result.LastEvaluatedKey;
  } while (startKey && collected.length <= limit);
  const items = collected.slice(0, limit);
  const page: Page<DeliveryRecord> = { items: items.map(toDelivery) };
  if (collected.length > limit) page.nextCursor = cursors.encode(scope, items[limit - 1]!["sk"] as string);
  return page;
}
