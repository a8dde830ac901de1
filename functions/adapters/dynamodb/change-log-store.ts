/**
 * The audit trail on DynamoDB: one item per write made in a customer's tenant, in the tenant's
 * partition (`TENANT#<tenantId>` / `CHANGE#<at>#<changeId>`), read newest first by a query on
 * that partition. Bounded: an item holds one write with its parameters already summarised (no
 * member lists, no secrets), so it stays far below DynamoDB's 400 KB. Retained like events: the
 * table's TTL attribute `expiresAt` (epoch seconds) removes an entry `retentionDays` after the
 * write (the events' retention, EVENT_RETENTION_DAYS; the local runtime sweeps expired items). The partner that owned the tenant when the write was made is kept
 * on the item, so that a later registration of the same tenant id by another partner never
 * lists it.
 */
import { PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import {
  CHANGE_LOG_RETENTION_DAYS,
  type ChangeLogStore,
  type ChangeRecord,
} from "../../domain/change-log.ts";
import type { Page } from "../../domain/store.ts";
import { CursorCodec } from "./cursor.ts";
import { tenantKey } from "./keys.ts";
import type { TableContext } from "./query.ts";
import type { DynamoTenantStoreOptions } from "./tenant-store.ts";

export const CHANGE_SK_PREFIX = "CHANGE#";
/** ISO timestamps contain no `#`: the sort key orders entries by time, then by id. */
export const changeSortKey = (at: string, changeId: string) => `${CHANGE_SK_PREFIX}${at}#${changeId}`;

interface ChangeItem extends ChangeRecord {
  pk: string;
  sk: string;
  kind: "change";
  partnerId: string;
  expiresAt: number;
}

export class DynamoChangeLogStore implements ChangeLogStore {
  readonly #ctx: TableContext;
  readonly #cursors: CursorCodec;
  readonly #partnerOf: (tenantId: string) => Promise<string | undefined>;
  readonly #retentionDays: number;

  /**
   * `partnerOf` says which partner owns the tenant now (recorded on each entry, and the only
   * one whose entries are listed).
   */
  constructor(
    options: Pick<DynamoTenantStoreOptions, "client" | "tableName" | "cursorSecret"> & {
      partnerOf: (tenantId: string) => Promise<string | undefined>;
      /** @default CHANGE_LOG_RETENTION_DAYS (90, as events) */
      retentionDays?: number;
    },
  ) {
    this.#retentionDays = options.retentionDays ?? CHANGE_LOG_RETENTION_DAYS;
    this.#ctx = { client: options.client, table: options.tableName };
    this.#cursors = new CursorCodec(options.cursorSecret ?? `journal-onboarding-cursor:${options.tableName}`);
    this.#partnerOf = options.partnerOf;
  }

  async record(change: ChangeRecord): Promise<void> {
    const partnerId = (await this.#partnerOf(change.tenantId)) ?? "";
    const item: ChangeItem = {
      ...change,
      pk: tenantKey(change.tenantId).pk,
      sk: changeSortKey(change.at, change.changeId),
      kind: "change",
      partnerId,
      expiresAt: Math.floor(Date.parse(change.at) / 1000) + Math.round(this.#retentionDays * 86_400),
    };
    await this.#ctx.client.send(new PutCommand({ TableName: this.#ctx.table, Item: item }));
  }

  async pageChanges(
    tenantId: string,
    query: { limit: number; cursor?: string },
  ): Promise<Page<ChangeRecord>> {
    const { limit } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError("limit must be 1-100");
    const scope = `changes:${tenantId}`;
    const pk = tenantKey(tenantId).pk;
    const partnerId = (await this.#partnerOf(tenantId)) ?? "";
    const before =
      query.cursor === undefined
        ? undefined
        : this.#cursors.decode(scope, query.cursor, (p) => p.startsWith(CHANGE_SK_PREFIX) && p.length < 300);
    const collected: ChangeItem[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#ctx.client.send(
        new QueryCommand({
          TableName: this.#ctx.table,
          KeyConditionExpression:
            before === undefined
              ? "pk = :pk AND begins_with(sk, :prefix)"
              : "pk = :pk AND sk BETWEEN :prefix AND :before",
          FilterExpression: "partnerId = :partner",
          ExpressionAttributeValues: {
            ":pk": pk,
            ":prefix": CHANGE_SK_PREFIX,
            ":partner": partnerId,
            ...(before !== undefined ? { ":before": before } : {}),
          },
          ScanIndexForward: false,
          Limit: limit + 1 - collected.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      // BETWEEN includes the cursor's own entry: leave it out.
      collected.push(...((result.Items ?? []) as ChangeItem[]).filter((i) => i.sk !== before));
      startKey = result.LastEvaluatedKey;
    } while (startKey && collected.length <= limit);
    const items = collected.slice(0, limit).map(toRecord);
    if (collected.length <= limit) return { items };
    const last = collected[limit - 1] as ChangeItem;
    return { items, nextCursor: this.#cursors.encode(scope, last.sk) };
  }
}

function toRecord(item: ChangeItem): ChangeRecord {
  return {
    changeId: item.changeId,
    tenantId: item.tenantId,
    at: item.at,
    run: item.run,
    step: item.step,
    cmdlet: item.cmdlet,
    parameters: item.parameters,
    outcome: item.outcome,
    ...(item.errorCode ? { errorCode: item.errorCode } : {}),
    requestedBy: item.requestedBy,
    ...(item.actor ? { actor: item.actor } : {}),
  };
}
