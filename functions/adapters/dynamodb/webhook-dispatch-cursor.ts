/**
 * The local dispatcher's cursor (local runtime only): per tenant, the highest sequence whose
 * delivery was decided (created, or skipped: no endpoint, filtered out); start-up recovery
 * resumes each tenant after it. Item: pk `WEBHOOK_DELIVERIES#<tenantId>`, sk `CURSOR`.
 * (The AWS dispatcher keeps an order gate per registration instead: dispatch-order.ts.)
 */
import { GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dispatchCursorKey } from "./keys.ts";
import { isConditionFailure, type TableContext } from "./query.ts";

export class DynamoDispatchCursors {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  /** Highest sequence of the tenant whose delivery was decided; 0 when none. */
  async get(tenantId: string): Promise<number> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: dispatchCursorKey(tenantId), ConsistentRead: true }),
    );
    return (Item?.["dispatchedSequence"] as number | undefined) ?? 0;
  }

  /** Moves the cursor forward to `sequence` (never back). */
  async advance(tenantId: string, sequence: number): Promise<void> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: dispatchCursorKey(tenantId),
          UpdateExpression: "SET #seq = :seq, #kind = :kind",
          ConditionExpression: "attribute_not_exists(#seq) OR #seq < :seq",
          ExpressionAttributeNames: { "#seq": "dispatchedSequence", "#kind": "kind" },
          ExpressionAttributeValues: { ":seq": sequence, ":kind": "webhookDispatchCursor" },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
