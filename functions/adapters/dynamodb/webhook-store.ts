/**
 * Webhook endpoints, deliveries and the local dispatch cursor, on the service's one table
 * (summary in README.md, "Webhooks").
 *
 * Items (keys; the indexes are the table's sharded byPartner/all indexes, see schema.ts, keys.ts):
 * - endpoint: pk `WEBHOOK#<partnerId>`, sk `ENDPOINT`.
 * - delivery: pk `WEBHOOK_DELIVERIES#<tenantId>`, sk `DELIVERY#<sequence, 10 digits>`;
 *   byPartner `WEBHOOK_DELIVERIES#<partnerId>#<shard>` / `<createdAt>#<tenantId>#<sequence, 10
 *   digits>` (a partner's, newest first); all `WEBHOOK_DELIVERIES#ALL#<shard>` / same sort key
 *   (everyone's, ops).
 * - dispatch cursor: pk `WEBHOOK_DELIVERIES#<tenantId>`, sk `CURSOR`.
 *
 * - One delivery per event: its id `dlv_<tenantId>_<sequence>` names the event as exactly as
 *   the event id does (a tenant's sequence is never reused, not even by a new registration),
 *   and it puts a tenant's deliveries in one partition in `sequence` order. Creation is a
 *   conditional Put, so an event seen twice (stream or outbox redelivery) makes one delivery.
 * - Every change of a delivery is conditional on the `status`/`attempts`/`replays` it was read
 *   with (optimistic concurrency): two dispatchers racing on one delivery (an SQS duplicate)
 *   may both send it (at least once, same webhook-id) but record one outcome.
 * - The endpoint's `secret` is the HMAC key itself: a signature can only be made with it, so it
 *   cannot be stored hashed. It is stored encrypted (`functions/webhooks/secret-box.ts`: KMS in
 *   AWS, where only the dispatcher may decrypt; AES-GCM with a DATA_DIR key locally), so the
 *   table, its stream and its backups hold ciphertext only; a secret written before encryption
 *   (`whsec_...` in clear) is still read. This store never decrypts: the dispatcher opens the
 *   secret to sign; the API returns it only when created or rotated.
 * - The dispatch cursor (local runtime only) is the highest sequence of the tenant whose
 *   delivery was decided (created, or skipped: no endpoint, filtered out): start-up recovery
 *   resumes each tenant after it.
 */
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { retentionFromEnv } from "../../commons/config.ts";
import type { ErrorInfo } from "../../domain/errors.ts";
import type { Page } from "../../domain/store.ts";
import type { EventType, TenantEvent } from "../../domain/tenant.ts";
import type { DeliveryStatus, WebhookAttempt } from "../../domain/webhooks.ts";
import { CursorCodec } from "./cursor.ts";
import {
  allDeliveriesPk,
  OPS_LIST_SHARDS,
  PARTNER_LIST_SHARDS,
  partnerDeliveriesPk,
  shardOf,
  shards,
  tenantKey,
} from "./keys.ts";
import { queryNewestFirst, type ShardedList } from "./newest-first.ts";
import { isConditionFailure, queryAll } from "./query.ts";
import { TABLE_INDEXES, TABLE_KEYS } from "./schema.ts";

export const endpointKey = (partnerId: string) => ({ pk: `WEBHOOK#${partnerId}`, sk: "ENDPOINT" });
export const deliveriesPk = (tenantId: string) => `WEBHOOK_DELIVERIES#${tenantId}`;
export const deliverySortKey = (sequence: number) => `DELIVERY#${String(sequence).padStart(10, "0")}`;
export const deliveryKey = (tenantId: string, sequence: number) => ({
  pk: deliveriesPk(tenantId),
  sk: deliverySortKey(sequence),
});
export const dispatchCursorKey = (tenantId: string) => ({ pk: deliveriesPk(tenantId), sk: "CURSOR" });
const isDeliveryPosition = (p: string) => /^[^#]{1,64}#[A-Za-z0-9-]{1,64}#[0-9]{10}$/.test(p);

const DELIVERY_SK_PREFIX = "DELIVERY#";
const DELIVERY_ID = /^dlv_([A-Za-z0-9-]{1,64})_([1-9][0-9]{0,9})$/;

/** Index sort key: newest first under a descending Query, a tenant's deliveries of one instant by sequence. */
const deliveryIndexSortKey = (d: Pick<DeliveryRecord, "createdAt" | "tenantId" | "sequence">) =>
  `${d.createdAt}#${d.tenantId}#${String(d.sequence).padStart(10, "0")}`;

export const deliveryIdOf = (tenantId: string, sequence: number) => `dlv_${tenantId}_${sequence}`;

/** The tenant and sequence a delivery id names; undefined for anything this service did not issue. */
export function parseDeliveryId(deliveryId: string): { tenantId: string; sequence: number } | undefined {
  const match = DELIVERY_ID.exec(deliveryId);
  return match ? { tenantId: match[1]!, sequence: Number(match[2]) } : undefined;
}

/** The newest attempts kept on a delivery (a replayed delivery keeps collecting them). */
export const ATTEMPT_LOG_MAX = 50;

/** One attempt to POST a delivery. */
export type AttemptRecord = WebhookAttempt;

export interface EndpointRecord {
  partnerId: string;
  url: string;
  events: EventType[];
  /** `whsec_...`: signs every delivery. */
  secret: string;
  /** The secret before the last rotation: deliveries carry both signatures until it expires. */
  previousSecret?: string;
  previousSecretExpiresAt?: string;
  createdAt: string;
  updatedAt: string;
  /** Set when the endpoint answered 410 Gone; a PUT enables it again. */
  disabledAt?: string;
  disabledReason?: string;
}

export interface DeliveryRecord {
  deliveryId: string;
  eventId: string;
  partnerId: string;
  tenantId: string;
  sequence: number;
  type: EventType;
  /** The event itself: what every attempt sends. */
  event: TenantEvent;
  status: DeliveryStatus;
  /** Every attempt so far, replays included. */
  attempts: number;
  /** Attempts since creation or the last replay: the position in the retry schedule. */
  cycleAttempts: number;
  /** How often it was replayed; a queued message of an earlier round is stale. */
  replays: number;
  createdAt: string;
  lastAttemptAt?: string;
  nextAttemptAt?: string;
  lastResponseStatus?: number;
  error?: ErrorInfo;
  /** Oldest first, at most ATTEMPT_LOG_MAX. */
  attemptLog: AttemptRecord[];
}

/** What an attempt changes on a pending delivery. */
export interface AttemptUpdate {
  attempt: AttemptRecord;
  status: DeliveryStatus;
  nextAttemptAt?: string;
  error?: ErrorInfo;
}

export interface DynamoWebhookStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /** HMAC key of delivery list cursors. @default a key derived from the table name */
  cursorSecret?: string;
  /**
   * How long settled deliveries stay listable and replayable (TTL).
   * @default `EVENT_RETENTION_DAYS` (90)
   */
  retentionDays?: number;
  /**
   * Remember for this long (ms) that a partner has no endpoint, so that events of partners
   * without one cost no read. Only where every endpoint write goes through this instance (the
   * local runtime: one process per DATA_DIR): each write through it forgets what was
   * remembered, before and after it. Never in AWS, where the API writes endpoints in other
   * processes. @default 0 (off)
   */
  rememberMissingEndpointsMs?: number;
}

/** Partners remembered without an endpoint, at most (then all are forgotten). */
const MISSING_REMEMBERED_MAX = 10_000;

/** SET/REMOVE clauses with placeholders for every name and value (no reserved-word surprises). */
class Assignments {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly #set: string[] = [];
  readonly #remove: string[] = [];
  #n = 0;

  name(attribute: string): string {
    const placeholder = `#a${Object.keys(this.names).length}`;
    const existing = Object.entries(this.names).find(([, v]) => v === attribute);
    if (existing) return existing[0];
    this.names[placeholder] = attribute;
    return placeholder;
  }
  value(value: unknown): string {
    const placeholder = `:v${this.#n++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
  set(attribute: string, value: unknown): void {
    this.#set.push(`${this.name(attribute)} = ${this.value(value)}`);
  }
  copy(attribute: string, from: string): void {
    this.#set.push(`${this.name(attribute)} = ${this.name(from)}`);
  }
  setOrRemove(attribute: string, value: unknown): void {
    if (value === undefined) this.#remove.push(this.name(attribute));
    else this.set(attribute, value);
  }
  expression(): string {
    return [
      this.#set.length ? `SET ${this.#set.join(", ")}` : "",
      this.#remove.length ? `REMOVE ${this.#remove.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
  }
}

const ENDPOINT_FIELDS = [
  "url",
  "events",
  "secret",
  "previousSecret",
  "previousSecretExpiresAt",
  "createdAt",
  "updatedAt",
  "disabledAt",
  "disabledReason",
] as const;

/**
 * Webhook persistence (endpoints, deliveries, dispatch cursors) on DynamoDB.
 *
 * @example
 * const webhookStore = new DynamoWebhookStore({ client: createDocumentClient(), tableName: "journal-onboarding" });
 * const endpoint = await webhookStore.getEndpoint("p_123");
 */
export class DynamoWebhookStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #cursors: CursorCodec;
  readonly #retentionSeconds: number;
  readonly #rememberMissingMs: number;
  /** Partners read without an endpoint: until when, and at which generation of endpoint writes. */
  readonly #missing = new Map<string, { until: number; generation: number }>();
  /** Bumped before and after every endpoint write through this instance. */
  #generation = 0;

  constructor(options: DynamoWebhookStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#cursors = new CursorCodec(
      options.cursorSecret ?? `journal-onboarding-webhooks:${options.tableName}`,
    );
    this.#retentionSeconds = Math.round((options.retentionDays ?? retentionFromEnv().eventDays) * 86_400);
    this.#rememberMissingMs = options.rememberMissingEndpointsMs ?? 0;
  }

  /**
   * True when the partner was read without an endpoint recently and no endpoint was written
   * through this instance since (`rememberMissingEndpointsMs`); false when unknown.
   */
  knownWithoutEndpoint(partnerId: string): boolean {
    const missing = this.#missing.get(partnerId);
    if (!missing) return false;
    if (missing.generation === this.#generation && Date.now() < missing.until) return true;
    this.#missing.delete(partnerId);
    return false;
  }

  /** Runs an endpoint write; whatever was remembered as missing is forgotten before and after. */
  async #endpointWrite<T>(write: () => Promise<T>): Promise<T> {
    this.#forgetMissing();
    try {
      return await write();
    } finally {
      this.#forgetMissing();
    }
  }

  #forgetMissing(): void {
    this.#generation++;
    this.#missing.clear();
  }

  // ---- endpoints -------------------------------------------------------------------------

  /**
   * The partner the tenant is registered to and the first sequence of its registration (one
   * small read of the tenant item), so that a partner's delivery list filtered by tenant reads
   * nothing of a tenant that is not its own, nor a previous owner's deliveries.
   */
  async tenantOwner(tenantId: string): Promise<{ partnerId: string; firstSequence: number } | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: tenantKey(tenantId),
        ProjectionExpression: "partnerId, firstSequence",
        ConsistentRead: true,
      }),
    );
    if (typeof Item?.["partnerId"] !== "string") return undefined;
    const first = Number(Item["firstSequence"]);
    return { partnerId: Item["partnerId"], firstSequence: Number.isInteger(first) && first > 0 ? first : 1 };
  }

  async getEndpoint(partnerId: string): Promise<EndpointRecord | undefined> {
    if (this.#rememberMissingMs > 0 && this.knownWithoutEndpoint(partnerId)) return undefined;
    const generation = this.#generation;
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: endpointKey(partnerId), ConsistentRead: true }),
    );
    // Remembered only when no endpoint write started or ended while reading.
    if (!Item && this.#rememberMissingMs > 0 && generation === this.#generation) {
      if (this.#missing.size >= MISSING_REMEMBERED_MAX) this.#missing.clear();
      this.#missing.set(partnerId, { until: Date.now() + this.#rememberMissingMs, generation });
    }
    return Item && toEndpoint(Item);
  }

  /** Creates the endpoint; false when the partner already has one. */
  async createEndpoint(record: EndpointRecord): Promise<boolean> {
    try {
      await this.#endpointWrite(() =>
        this.#client.send(
          new PutCommand({
            TableName: this.#table,
            Item: { ...endpointKey(record.partnerId), kind: "webhookEndpoint", ...record },
            ConditionExpression: "attribute_not_exists(pk)",
          }),
        ),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Replaces url/events (and the secret when given), enables the endpoint again. Conditional
   * on the endpoint existing; false when it does not (deleted meanwhile).
   */
  async replaceEndpoint(
    partnerId: string,
    change: {
      url: string;
      events: EventType[];
      updatedAt: string;
      rotate?: { secret: string; previousExpiresAt: string };
    },
  ): Promise<EndpointRecord | undefined> {
    const u = new Assignments();
    u.set("url", change.url);
    u.set("events", change.events);
    u.set("updatedAt", change.updatedAt);
    u.setOrRemove("disabledAt", undefined);
    u.setOrRemove("disabledReason", undefined);
    if (change.rotate) {
      // Operands read the item before the write: the old secret keeps signing during the overlap.
      u.copy("previousSecret", "secret");
      u.set("secret", change.rotate.secret);
      u.set("previousSecretExpiresAt", change.rotate.previousExpiresAt);
    }
    try {
      const { Attributes } = await this.#endpointWrite(() =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: endpointKey(partnerId),
            UpdateExpression: u.expression(),
            ConditionExpression: "attribute_exists(pk)",
            ExpressionAttributeNames: u.names,
            ExpressionAttributeValues: u.values,
            ReturnValues: "ALL_NEW",
          }),
        ),
      );
      return Attributes && toEndpoint(Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  /** False when there was none. */
  async deleteEndpoint(partnerId: string): Promise<boolean> {
    const { Attributes } = await this.#endpointWrite(() =>
      this.#client.send(
        new DeleteCommand({ TableName: this.#table, Key: endpointKey(partnerId), ReturnValues: "ALL_OLD" }),
      ),
    );
    return Attributes !== undefined;
  }

  /** Disables the endpoint, unless its URL changed meanwhile (the partner fixed it). */
  async disableEndpoint(partnerId: string, url: string, reason: string, now: string): Promise<void> {
    try {
      await this.#endpointWrite(() =>
        this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: endpointKey(partnerId),
            UpdateExpression: "SET #at = :now, #reason = :reason",
            ConditionExpression: "#url = :url",
            ExpressionAttributeNames: { "#url": "url", "#at": "disabledAt", "#reason": "disabledReason" },
            ExpressionAttributeValues: { ":now": now, ":reason": reason, ":url": url },
          }),
        ),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
    }
  }

  // ---- deliveries ------------------------------------------------------------------------

  /** Creates the delivery unless it exists; returns the stored one either way. */
  async createDelivery(record: DeliveryRecord): Promise<DeliveryRecord> {
    const key = deliveryKey(record.tenantId, record.sequence);
    const position = deliveryIndexSortKey(record);
    try {
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...key,
            kind: "webhookDelivery",
            ...record,
            [TABLE_INDEXES.byPartner.partitionKey]: partnerDeliveriesPk(
              record.partnerId,
              shardOf(deliveryIdOf(record.tenantId, record.sequence), PARTNER_LIST_SHARDS),
            ),
            [TABLE_INDEXES.byPartner.sortKey]: position,
            [TABLE_INDEXES.all.partitionKey]: allDeliveriesPk(
              shardOf(deliveryIdOf(record.tenantId, record.sequence), OPS_LIST_SHARDS),
            ),
            [TABLE_INDEXES.all.sortKey]: position,
            ...(record.status !== "pending" && { [TABLE_KEYS.ttl]: this.#expiry(record.createdAt) }),
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return record;
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const existing = await this.getDelivery(record.tenantId, record.sequence);
      if (!existing) throw new Error(`delivery ${record.deliveryId} exists and vanished`);
      return existing;
    }
  }

  async getDelivery(tenantId: string, sequence: number): Promise<DeliveryRecord | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: deliveryKey(tenantId, sequence), ConsistentRead: true }),
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
    const u = new Assignments();
    u.set("status", update.status);
    u.set("attempts", current.attempts + counted);
    u.set("cycleAttempts", current.cycleAttempts + counted);
    u.set("attemptLog", log);
    if (update.attempt) {
      u.set("lastAttemptAt", update.attempt.at);
      u.setOrRemove("lastResponseStatus", update.attempt.responseStatus);
    }
    u.setOrRemove("nextAttemptAt", update.status === "pending" ? update.nextAttemptAt : undefined);
    u.setOrRemove("error", update.error);
    u.setOrRemove(TABLE_KEYS.ttl, update.status === "pending" ? undefined : this.#expiry(now));
    const condition = `${u.name("status")} = ${u.value("pending")} AND ${u.name("attempts")} = ${u.value(current.attempts)} AND ${u.name("replays")} = ${u.value(current.replays)}`;
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
          Key: deliveryKey(current.tenantId, current.sequence),
          UpdateExpression: u.expression(),
          ConditionExpression: condition,
          ExpressionAttributeNames: u.names,
          ExpressionAttributeValues: u.values,
          ReturnValues: "ALL_NEW",
        }),
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
  async reopenDelivery(current: DeliveryRecord, now: string): Promise<DeliveryRecord | undefined> {
    try {
      const { Attributes } = await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
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

  /** Undoes {@link reopenDelivery} when the replay could not be queued. */
  async restoreDelivery(previous: DeliveryRecord, reopened: DeliveryRecord): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
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
  async pendingDeliveries(tenantId: string): Promise<DeliveryRecord[]> {
    const items = await queryAll(this.#client, {
      TableName: this.#table,
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

  /**
   * Newest first: a partner's deliveries (byPartner index), or everyone's (all index, ops), or one tenant's
   * (its partition, newest sequence first; narrowed to `partnerId` when given). Throws
   * InvalidCursorError for a cursor not issued for the same list.
   */
  async listDeliveries(query: {
    partnerId?: string;
    tenantId?: string;
    /** With `tenantId`: only deliveries of this sequence and later (the owner's registration). */
    fromSequence?: number;
    limit: number;
    cursor?: string;
  }): Promise<Page<DeliveryRecord>> {
    const { limit } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError("limit must be 1-100");
    if (query.tenantId === undefined) {
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
      const page = await queryNewestFirst<Record<string, unknown>>(
        { client: this.#client, table: this.#table },
        this.#cursors,
        list,
        query,
      );
      return { items: page.items.map(toDelivery), ...(page.nextCursor && { nextCursor: page.nextCursor }) };
    }
    const pk = deliveriesPk(query.tenantId);
    const scope = `deliveries|tenant|${query.tenantId}|${query.partnerId ?? "*"}`;
    const input: QueryCommandInput =
      query.fromSequence === undefined
        ? {
            TableName: this.#table,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues: { ":pk": pk, ":prefix": DELIVERY_SK_PREFIX },
            ScanIndexForward: false,
          }
        : {
            // Only the caller's own registration: older deliveries are not even read.
            TableName: this.#table,
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
      const position = this.#cursors.decode(scope, query.cursor, (p) => /^DELIVERY#[0-9]{10}$/.test(p));
      startKey = { pk, sk: position };
    }
    const collected: Record<string, unknown>[] = [];
    // One item more than asked tells whether a next page exists; a filter applies after
    // DynamoDB's Limit, so read on until the page is full.
    do {
      const result = await this.#client.send(
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
    if (collected.length > limit)
      page.nextCursor = this.#cursors.encode(scope, items[limit - 1]!["sk"] as string);
    return page;
  }

  // ---- dispatch cursor (local runtime) ---------------------------------------------------

  /** Highest sequence of the tenant whose delivery was decided; 0 when none. */
  async getDispatchCursor(tenantId: string): Promise<number> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: dispatchCursorKey(tenantId), ConsistentRead: true }),
    );
    return (Item?.["dispatchedSequence"] as number | undefined) ?? 0;
  }

  /** Moves the cursor forward to `sequence` (never back). */
  async advanceDispatchCursor(tenantId: string, sequence: number): Promise<void> {
    try {
      await this.#client.send(
        new UpdateCommand({
          TableName: this.#table,
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

  #expiry(fromIso: string): number {
    return Math.floor(Date.parse(fromIso) / 1000) + this.#retentionSeconds;
  }
}

function toEndpoint(item: Record<string, unknown>): EndpointRecord {
  const record: Record<string, unknown> = { partnerId: item["partnerId"] };
  for (const field of ENDPOINT_FIELDS) if (item[field] !== undefined) record[field] = item[field];
  return record as unknown as EndpointRecord;
}

const DELIVERY_FIELDS = [
  "deliveryId",
  "eventId",
  "partnerId",
  "tenantId",
  "sequence",
  "type",
  "event",
  "status",
  "attempts",
  "cycleAttempts",
  "replays",
  "createdAt",
  "lastAttemptAt",
  "nextAttemptAt",
  "lastResponseStatus",
  "error",
  "attemptLog",
] as const;

function toDelivery(item: Record<string, unknown>): DeliveryRecord {
  const record: Record<string, unknown> = {};
  for (const field of DELIVERY_FIELDS) if (item[field] !== undefined) record[field] = item[field];
  record["attemptLog"] ??= [];
  return record as unknown as DeliveryRecord;
}
