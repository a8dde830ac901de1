/**
 * The AWS dispatcher's order gate: per tenant registration (its first sequence), the highest
 * sequence whose delivery is decided (sent, failed for good, or not wanted by the partner).
 * The stream hands events to the queue in any order when one write made several of them, so
 * the dispatcher sends an event only once its predecessor is decided. Item:
 * pk `WEBHOOK_DELIVERIES#<tenantId>`, sk `ORDER#<first sequence>`, expiring with the events.
 * (The local dispatcher keeps a cursor of its own: webhook-dispatch-cursor.ts, `CURSOR`.)
 */
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { retentionFromEnv } from "../../commons/config.ts";
import { deliveriesPk } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";

const orderKey = (tenantId: string, first: number) => ({
  pk: deliveriesPk(tenantId),
  sk: `ORDER#${String(first).padStart(10, "0")}`,
});

/** The port the dispatcher uses. */
export interface DispatchOrder {
  /** The highest decided sequence of the registration starting at `first`; `first - 1` when none. */
  decided(tenantId: string, first: number): Promise<number>;
  /** Moves it forward to `sequence` (never back). */
  advance(tenantId: string, first: number, sequence: number): Promise<void>;
}

export class DynamoDispatchOrder implements DispatchOrder {
  readonly #ctx: TableContext;
  readonly #retentionSeconds: number;

  constructor(ctx: TableContext, options: { retentionDays?: number } = {}) {
    this.#ctx = ctx;
    this.#retentionSeconds = Math.round((options.retentionDays ?? retentionFromEnv().eventDays) * 86_400);
  }

  async decided(tenantId: string, first: number): Promise<number> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: orderKey(tenantId, first), ConsistentRead: true }),
    );
    const value = Item?.["decidedSequence"];
    return typeof value === "number" ? value : first - 1;
  }

  async advance(tenantId: string, first: number, sequence: number): Promise<void> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: orderKey(tenantId, first),
          UpdateExpression: "SET #seq = :seq, #kind = :kind, #ttl = :ttl",
          ConditionExpression: "attribute_not_exists(#seq) OR #seq < :seq",
          ExpressionAttributeNames: { "#seq": "decidedSequence", "#kind": "kind", "#ttl": "expiresAt" },
          ExpressionAttributeValues: {
            ":seq": sequence,
            ":kind": "webhookDispatchOrder",
            ":ttl": Math.floor(Date.now() / 1000) + this.#retentionSeconds,
          },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
