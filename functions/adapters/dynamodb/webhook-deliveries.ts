/**
 * Webhook deliveries: one per event, pk `WEBHOOK_DELIVERIES#<tenantId>`, sk `DELIVERY#<sequence,
 * 10 digits>`, listed through the byPartner and all indexes (webhook-delivery-list.ts).
 *
 * - Its key, the tenant's stored sequence, names the event as exactly as the event id does (a
 *   tenant's sequence is never reused, not even by a new registration), and it puts a tenant's
 *   deliveries in one partition in `sequence` order. The id partners see counts in their own
 *   registration (`deliveryIdFor` in webhook-records.ts). Creation is a conditional Put, so an event
 *   seen twice (stream or outbox redelivery) makes one delivery.
 * - Every change of a delivery is conditional on the `status`/`attempts`/`replays` it was read
 *   with (optimistic concurrency): two dispatchers racing on one delivery (an SQS duplicate)
 *   may both send it (at least once, same webhook-id) but record one outcome.
 * - A settled delivery expires after the retention period (TTL); a pending one never does.
 */
import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { DELIVERY_SK_PREFIX, deliveriesPk, deliveryKey, deliveryListKeys } from "./keys.ts";
import { isConditionFailure, queryAll, type TableContext } from "./query.ts";
import { TABLE_KEYS } from "./schema.ts";
import { UpdateExpression } from "./update-expression.ts";
import {
  ATTEMPT_LOG_MAX,
  type AttemptRecord,
  type AttemptUpdate,
  type DeliveryRecord,
  deliveryIdOf,
  deliveryIndexSortKey,
  toDelivery,
} from "./webhook-records.ts";

export class DynamoWebhookDeliveries {
  readonly #ctx: TableContext;
  readonly #retentionSeconds: number;

  constructor(ctx: TableContext, retentionDays: number) {
    this.#ctx = ctx;
    this.#retentionSeconds = Math.round(retentionDays * 86_400);
  }

  /** Creates the delivery unless it exists; returns the stored one either way. */
  async create(record: DeliveryRecord): Promise<DeliveryRecord> {
    const position = deliveryIndexSortKey(record);
    try {
      await this.#ctx.client.send(
        new PutCommand({
          TableName: this.#ctx.table,
          Item: {
            ...deliveryKey(record.tenantId, record.sequence),
            kind: "webhookDelivery",
            ...record,
            ...deliveryListKeys(record.partnerId, deliveryIdOf(record.tenantId, record.sequence), position),
            ...(record.status !== "pending" && { [TABLE_KEYS.ttl]: this.#expiry(record.createdAt) }),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return record;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const existing = await this.get(record.tenantId, record.sequence);
      if (!existing) throw new Error(`delivery ${record.deliveryId} exists and vanished`);
      return existing;
    }
  }

  async get(tenantId: string, sequence: number): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({
        TableName: this.#ctx.table,
        Key: deliveryKey(tenantId, sequence),
        ConsistentRead: true,
      }),
    );
    return Item && toDelivery(Item);
  }

  /**
   * Records an attempt (or a decision without a request, when `update.attempt` is undefined)
   * on a pending delivery read as `current`. Returns the new state, or undefined when the
   * delivery changed meanwhile (another dispatcher, a replay).
   */
  async recordAttempt(
    current: DeliveryRecord,
    update: Omit<AttemptUpdate, "attempt"> & { attempt?: AttemptRecord },
  ): Promise<DeliveryRecord | undefined> {
    const now = update.attempt?.at ?? new Date().toISOString();
    const log = update.attempt
      ? [...current.attemptLog, update.attempt].slice(-ATTEMPT_LOG_MAX)
      : current.attemptLog;
    const counted = update.attempt ? 1 : 0;
    const u = new UpdateExpression();
    const setOrRemove = (attribute: string, value: unknown) =>
      value === undefined ? u.remove(u.path(attribute)) : u.set(u.path(attribute), u.value(value));
    u.set(u.path("status"), u.value(update.status));
    u.set(u.path("attempts"), u.value(current.attempts + counted));
    u.set(u.path("cycleAttempts"), u.value(current.cycleAttempts + counted));
    u.set(u.path("attemptLog"), u.value(log));
    if (update.attempt) {
      u.set(u.path("lastAttemptAt"), u.value(update.attempt.at));
      setOrRemove("lastResponseStatus", update.attempt.responseStatus);
    }
    setOrRemove("nextAttemptAt", update.status === "pending" ? update.nextAttemptAt : undefined);
    setOrRemove("error", update.error);
    setOrRemove(TABLE_KEYS.ttl, update.status === "pending" ? undefined : this.#expiry(now));
    u.condition(`${u.path("status")} = ${u.value("pending")}`);
    u.condition(`${u.path("attempts")} = ${u.value(current.attempts)}`);
    u.condition(`${u.path("replays")} = ${u.value(current.replays)}`);
    try {
      const { Attributes } = await this.#ctx.client.send(
        u.command(this.#ctx.table, deliveryKey(current.tenantId, current.sequence)),
      );
      return Attributes && toDelivery(Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /**
   * Puts a settled delivery back to `pending` for a new round of the schedule (same event, same
   * webhook-id). Returns undefined when it is pending already (nothing to do).
   */
  async reopen(current: DeliveryRecord, now: string): Promise<DeliveryRecord | undefined> {
    try {
      const { Attributes } = await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: deliveryKey(current.tenantId, current.sequence),
          UpdateExpression:
            "SET #status = :pending, #replays = #replays + :one, #cycle = :zero, #next = :now REMOVE #error, #ttl",
          ConditionExpression: "attribute_exists(pk) AND #status <> :pending",
          ExpressionAttributeNames: {
            "#status": "status",
            "#replays": "replays",
            "#cycle": "cycleAttempts",
            "#next": "nextAttemptAt",
            "#error": "error",
            "#ttl": TABLE_KEYS.ttl,
          },
          ExpressionAttributeValues: { ":pending": "pending", ":one": 1, ":zero": 0, ":now": now },
          ReturnValues: "ALL_NEW",
        }),
      );
      return Attributes && toDelivery(Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /** Undoes {@link reopen} when the replay could not be queued. */
  async restore(previous: DeliveryRecord, reopened: DeliveryRecord): Promise<void> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: deliveryKey(previous.tenantId, previous.sequence),
          UpdateExpression:
            "SET #status = :status, #replays = :replays, #cycle = :cycle, #ttl = :ttl" +
            (previous.error ? ", #error = :error" : "") +
            " REMOVE #next",
          ConditionExpression: "#replays = :reopened AND #attempts = :attempts",
          ExpressionAttributeNames: {
            "#status": "status",
            "#replays": "replays",
            "#cycle": "cycleAttempts",
            "#attempts": "attempts",
            "#next": "nextAttemptAt",
            "#ttl": TABLE_KEYS.ttl,
            ...(previous.error && { "#error": "error" }),
          },
          ExpressionAttributeValues: {
            ":status": previous.status,
            ":replays": previous.replays,
            ":cycle": previous.cycleAttempts,
            ":ttl": this.#expiry(previous.lastAttemptAt ?? previous.createdAt),
            ":reopened": reopened.replays,
            ":attempts": reopened.attempts,
            ...(previous.error && { ":error": previous.error }),
          },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  /** The tenant's pending deliveries, in sequence order (start-up recovery). */
  async pending(tenantId: string): Promise<DeliveryRecord[]> {
    const items = await queryAll(this.#ctx.client, {
      TableName: this.#ctx.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      FilterExpression: "#status = :pending",
      ExpressionAttributeNames: { "#status": "status" },
      ExpressionAttributeValues: {
        ":pk": deliveriesPk(tenantId),
        ":prefix": DELIVERY_SK_PREFIX,
        ":pending": "pending",
      },
      ConsistentRead: true,
    });
    return items.map(toDelivery);
  }

  #expiry(fromIso: string): number {
    return Math.floor(Date.parse(fromIso) / 1000) + this.#retentionSeconds;
  }
}
