/**
 * The circuit breaker of partners' webhook endpoints (circuit-breaker.ts decides; this keeps
 * its state). One item per partner while its endpoint is marked unresponsive: pk
 * `WEBHOOK#<partnerId>`, sk `BREAKER`. Every write is conditional, so any number of
 * dispatchers (Lambda invocations, local runtimes) agree on it: an opening only moves the
 * time forward, exactly one dispatcher wins the probe of a half-open breaker, and a close
 * removes only the breaker of the URL that answered.
 */
import { DeleteCommand, GetCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { isConditionFailure, type TableContext } from "./query.ts";
import { TABLE_KEYS } from "./schema.ts";

export interface BreakerState {
  /** The endpoint URL the breaker is about; another URL (a PUT since) has no breaker. */
  url: string;
  /** Epoch ms: no attempt before this. */
  openUntil: number;
  /** Epoch ms: a dispatcher's probe attempt is in flight until this. */
  probeUntil?: number;
  /** Openings in a row without an answer since (the open time grows with it). */
  opens: number;
}

const KEEP_SECONDS = 24 * 3600;
const breakerKey = (partnerId: string) => ({ pk: `WEBHOOK#${partnerId}`, sk: "BREAKER" });

export class DynamoEndpointBreakers {
  readonly #ctx: TableContext;

  constructor(ctx: TableContext) {
    this.#ctx = ctx;
  }

  async get(partnerId: string): Promise<BreakerState | undefined> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({ TableName: this.#ctx.table, Key: breakerKey(partnerId), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      url: Item["url"] as string,
      openUntil: Item["openUntil"] as number,
      opens: (Item["opens"] as number | undefined) ?? 1,
      ...(typeof Item["probeUntil"] === "number" && { probeUntil: Item["probeUntil"] as number }),
    };
  }

  /**
   * Opens (or keeps open) the breaker of `url` until `until`; ends any probe. `opens` is the
   * count in a row this opening makes. False when a later opening is already stored.
   */
  async open(partnerId: string, url: string, until: number, opens: number): Promise<boolean> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: breakerKey(partnerId),
          UpdateExpression:
            "SET #url = :url, #until = :until, #opens = :opens, #kind = :kind, #ttl = :ttl REMOVE #probe",
          ConditionExpression: "attribute_not_exists(#until) OR #url <> :url OR #until < :until",
          ExpressionAttributeNames: {
            "#url": "url",
            "#until": "openUntil",
            "#opens": "opens",
            "#kind": "kind",
            "#probe": "probeUntil",
            "#ttl": TABLE_KEYS.ttl,
          },
          ExpressionAttributeValues: {
            ":url": url,
            ":until": until,
            ":opens": opens,
            ":kind": "webhookBreaker",
            // A breaker nobody closes (the endpoint was deleted meanwhile) goes a day after its time.
            ":ttl": Math.floor(until / 1000) + KEEP_SECONDS,
          },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Claims the one probe of a half-open breaker (its time passed, no probe in flight) until
   * `probeUntil`. True for exactly one of any number of concurrent callers.
   */
  async claimProbe(partnerId: string, url: string, now: number, probeUntil: number): Promise<boolean> {
    try {
      await this.#ctx.client.send(
        new UpdateCommand({
          TableName: this.#ctx.table,
          Key: breakerKey(partnerId),
          UpdateExpression: "SET #probe = :probe",
          ConditionExpression:
            "#url = :url AND #until <= :now AND (attribute_not_exists(#probe) OR #probe <= :now)",
          ExpressionAttributeNames: { "#url": "url", "#until": "openUntil", "#probe": "probeUntil" },
          ExpressionAttributeValues: { ":url": url, ":now": now, ":probe": probeUntil },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Closes the partner's breaker whatever its URL: the partner PUT its endpoint again (it says
   * the endpoint is fixed), so the next due attempt is sent instead of waiting up to 10 minutes.
   */
  async reset(partnerId: string): Promise<void> {
    await this.#ctx.client.send(
      new DeleteCommand({ TableName: this.#ctx.table, Key: breakerKey(partnerId) }),
    );
  }

  /** Closes the breaker of `url` (the endpoint answered); a breaker of another URL stays. */
  async close(partnerId: string, url: string): Promise<void> {
    try {
      await this.#ctx.client.send(
        new DeleteCommand({
          TableName: this.#ctx.table,
          Key: breakerKey(partnerId),
          ConditionExpression: "#url = :url",
          ExpressionAttributeNames: { "#url": "url" },
          ExpressionAttributeValues: { ":url": url },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }
}
