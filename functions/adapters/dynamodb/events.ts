/**
 * Events: the tenant item's outbox and the event items (`TENANT#<tenantId>` /
 * `EVENT#<sequence>`). A state change appends its event to the outbox (`tenants.ts`); the
 * flush here writes each entry as an event item of its own (idempotent Put) and trims it from
 * the head of the outbox. Readers merge the outbox, so nothing depends on the flush having
 * happened.
 */
import { QueryCommand, ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { partnerEvent } from "../../domain/partner-sequence.ts";
import type { Page } from "../../domain/store.ts";
import type { EventType, TenantEvent } from "../../domain/tenant.ts";
import type { CursorCodec } from "./cursor.ts";
import { EVENT_SK_MAX, EVENT_SK_PREFIX, eventSortKey, tenantKey } from "./keys.ts";
import { batchPut, isConditionFailure, type TableContext } from "./query.ts";
import { readTenantItem, type TenantItem } from "./tenant-item.ts";

/** Outbox entries trimmed per UpdateItem (keeps the expression far below its 4 KB limit). */
const TRIM_BATCH = 100;
/** With `lazyTrim`: entries a running workflow's outbox gathers before they are written out and trimmed. */
const LAZY_TRIM_AT = 8;
/** With `lazyTrim`: statuses whose workflow is still making events (the outbox is trimmed later). */
const ACTIVE_STATUSES: ReadonlySet<string> = new Set(["queued", "running", "offboarding"]);
/** With `lazyTrim`: registrations whose announced sequence is remembered, at most (then all are forgotten). */
const ANNOUNCED_MAX = 10_000;

interface EventItem {
  pk: string;
  sk: string;
  kind: "event";
  partnerId: string;
  id: string;
  type: EventType;
  timestamp: string;
  data: TenantEvent["data"];
  /** The registration's first sequence: the webhook dispatcher delivers a registration's events in order from it. */
  firstSequence: number;
  /** The registration's offset: the partner sees `sequence - sequenceOffset` (partner-sequence.ts). */
  sequenceOffset?: number;
  /** TTL (epoch seconds). */
  expiresAt: number;
}

export interface TenantEventsOptions {
  /** Event items expire this long after their time (TTL). */
  eventRetentionDays: number;
  onEvents?: (events: TenantEvent[], partnerId: string) => void;
  onFlushError: (err: unknown, tenantId: string) => void;
  /** Whether a state change flushes its outbox itself. @default true */
  flushAfterWrite?: boolean;
  /**
   * The local runtime (its events are announced in-process, no stream consumer): while a
   * tenant's workflow runs, a state change's flush announces its new entries (`onEvents`) at
   * once, but they stay in the outbox (durable, merged by every reader) until
   * {@link LAZY_TRIM_AT} have gathered or the workflow stops making events; then one
   * BatchWriteItem writes them out as event items and one UpdateItem trims them (instead of
   * both per event). This process never announces an entry twice (another process, e.g. the
   * next start's `flushAll`, may: at least once); a flush asked for during a flush uses the
   * newest state written instead of reading it. `flushOutbox` and `flushAll` always write out
   * and trim. @default false
   */
  lazyTrim?: boolean;
}

export class TenantEvents {
  readonly #ctx: TableContext;
  readonly #cursors: CursorCodec;
  readonly #onEvents: TenantEventsOptions["onEvents"];
  readonly #retentionSeconds: number;
  readonly onFlushError: (err: unknown, tenantId: string) => void;
  /** Whether a state change flushes its outbox itself (false: a stream consumer does). */
  readonly flushAfterWrite: boolean;
  /** One flush per tenant at a time in this process; callers arriving meanwhile ask for another round. */
  readonly #flushing = new Map<
    string,
    { again: boolean; done: Promise<void>; next?: TenantItem | undefined; trim: boolean }
  >();
  readonly #lazyTrim: boolean;
  /** With `lazyTrim`: the highest sequence announced (`onEvents`) by this process, per registration. */
  readonly #announced = new Map<string, number>();

  constructor(ctx: TableContext, cursors: CursorCodec, options: TenantEventsOptions) {
    this.#ctx = ctx;
    this.#cursors = cursors;
    this.#onEvents = options.onEvents;
    this.#retentionSeconds = Math.round(options.eventRetentionDays * 86_400);
    this.onFlushError = options.onFlushError;
    this.flushAfterWrite = options.flushAfterWrite ?? true;
    this.#lazyTrim = options.lazyTrim ?? false;
  }

  /**
   * A page of `listEvents` as the partner sees it (sequences counted in its registration:
   * partner-sequence.ts); the cursor is the page's last such sequence, signed for this tenant.
   */
  async pageEvents(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<TenantEvent>> {
    const scope = `events:${tenantId}`;
    const afterPartnerSequence =
      query.cursor === undefined
        ? undefined
        : Number(this.#cursors.decode(scope, query.cursor, (p) => /^(0|[1-9][0-9]{0,14})$/.test(p)));
    const events = (
      await this.listEvents(tenantId, {
        limit: query.limit + 1,
        ...(afterPartnerSequence !== undefined && { afterPartnerSequence }),
      })
    ).map(partnerEvent);
    if (events.length <= query.limit) return { items: events };
    const items = events.slice(0, query.limit);
    return { items, nextCursor: this.#cursors.encode(scope, String(items.at(-1)!.data.sequence)) };
  }

  /**
   * Oldest first: the event items of the current registration merged with the outbox, in the
   * stored sequence, each with its registration's offset. `afterPartnerSequence`: after the
   * event the partner sees with that sequence (pageEvents' cursor).
   */
  async listEvents(
    tenantId: string,
    query: { afterSequence?: number; afterPartnerSequence?: number; limit?: number } = {},
  ): Promise<TenantEvent[]> {
    // Read the outbox BEFORE the event items: entries are trimmed only after they were
    // written as items, so an entry missing from this outbox is found by the query below.
    const item = await readTenantItem(this.#ctx, tenantId);
    if (!item) return [];
    const after =
      query.afterPartnerSequence !== undefined
        ? query.afterPartnerSequence + (item.sequenceOffset ?? 0)
        : (query.afterSequence ?? 0);
    const from = Math.max(after + 1, item.firstSequence);
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 1) || (Number.isFinite(limit) && !Number.isInteger(limit)))
      throw new RangeError("limit must be >= 1");
    const pending = pendingEvents(item).filter((e) => e.data.sequence >= from);
    const materialisedBefore = pending[0]?.data.sequence;
    const bySequence = new Map<number, TenantEvent>();
    if (materialisedBefore === undefined || materialisedBefore > from) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.#ctx.client.send(
          new QueryCommand({
            TableName: this.#ctx.table,
            KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
            ExpressionAttributeValues: {
              ":pk": tenantKey(tenantId).pk,
              ":from": eventSortKey(from),
              ":to": materialisedBefore === undefined ? EVENT_SK_MAX : eventSortKey(materialisedBefore - 1),
            },
            ConsistentRead: true,
            ...(Number.isFinite(limit) ? { Limit: limit - bySequence.size } : {}),
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        for (const raw of result.Items ?? []) {
          const e = raw as EventItem;
          bySequence.set(e.data.sequence, {
            id: e.id,
            type: e.type,
            timestamp: e.timestamp,
            data: e.data,
            ...(e.sequenceOffset && { sequenceOffset: e.sequenceOffset }),
          });
        }
        startKey = result.LastEvaluatedKey;
      } while (startKey && bySequence.size < limit);
    }
    for (const e of pending) if (!bySequence.has(e.data.sequence)) bySequence.set(e.data.sequence, e);
    return [...bySequence.values()].sort((a, b) => a.data.sequence - b.data.sequence).slice(0, limit);
  }

  /**
   * The highest sequence of the tenant's event items (0 when none): a registration whose
   * tenant item expired (TTL) continues after it, so that a new registration never reuses the
   * sequence, hence the event items, of an earlier one.
   */
  async newestSequence(tenantId: string): Promise<number> {
    const result = await this.#ctx.client.send(
      new QueryCommand({
        TableName: this.#ctx.table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": tenantKey(tenantId).pk, ":prefix": EVENT_SK_PREFIX },
        ProjectionExpression: "sk",
        ScanIndexForward: false,
        Limit: 1,
        ConsistentRead: true,
      }),
    );
    const sk = result.Items?.[0]?.["sk"] as string | undefined;
    return sk ? Number(sk.slice(EVENT_SK_PREFIX.length)) : 0;
  }

  /** Our event in the state right after our write: the outbox's last entry, unless a retry path read a later state. */
  async findOwnEvent(item: TenantItem, changeId: string): Promise<TenantEvent | undefined> {
    const pending = pendingEvents(item).find((e) => e.id === changeId);
    if (pending) return pending;
    const events = await this.listEvents(item.tenantId);
    return events.find((e) => e.id === changeId);
  }

  /**
   * Flushes the tenant's outbox; `snapshot` is the tenant item as just written (saves a read).
   * One flush per tenant at a time in this process. `afterWrite`: a state change's own flush
   * (with `lazyTrim`, it may leave written-out entries in the outbox).
   */
  flush(tenantId: string, snapshot?: TenantItem, afterWrite = false): Promise<void> {
    const running = this.#flushing.get(tenantId);
    if (running) {
      running.again = true;
      running.trim ||= !afterWrite;
      // The newest state written (the outbox only grows with seq) saves the next round's read.
      if (this.#lazyTrim && snapshot && (running.next?.seq ?? -1) < (snapshot.seq ?? 0))
        running.next = snapshot;
      else if (!snapshot) running.next = undefined;
      return running.done;
    }
    const state: { again: boolean; done: Promise<void>; next?: TenantItem | undefined; trim: boolean } = {
      again: false,
      done: Promise.resolve(),
      trim: !afterWrite,
    };
    state.done = (async () => {
      try {
        let item = snapshot;
        let reread = false;
        do {
          state.again = false;
          const trim = state.trim;
          state.trim = false;
          item ??= await readTenantItem(this.#ctx, tenantId);
          const stale = item ? await this.#flushItem(item, trim || !this.#lazyTrim) : false;
          item = state.next;
          state.next = undefined;
          // The state given was older than a trim already made: once more from a fresh read.
          if (stale && this.#lazyTrim && !reread) {
            reread = true;
            state.again = true;
            state.trim = trim;
            item = undefined;
          }
        } while (state.again);
      } finally {
        this.#flushing.delete(tenantId);
      }
    })();
    this.#flushing.set(tenantId, state);
    return state.done;
  }

  /**
   * Flushes every tenant whose outbox is not empty (a Scan: for the local runtime's start-up
   * after a crash; in AWS a Stream consumer on tenant items calls `flushOutbox` instead).
   * Returns how many tenants had pending events.
   */
  async flushAll(): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#ctx.client.send(
        new ScanCommand({
          TableName: this.#ctx.table,
          FilterExpression: "sk = :tenant AND size(outbox) > :zero",
          ExpressionAttributeValues: { ":tenant": "TENANT", ":zero": 0 },
          ProjectionExpression: "tenantId",
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of result.Items ?? []) {
        await this.flush(item["tenantId"] as string);
        count++;
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  /** False, or true when the trim found the outbox trimmed already (the item given was stale). */
  async #flushItem(item: TenantItem, trim: boolean): Promise<boolean> {
    const events = pendingEvents(item);
    if (events.length === 0) return false;
    const { pk } = tenantKey(item.tenantId);
    if (!this.#lazyTrim) {
      await this.#writeOut(item, pk, events);
      this.#onEvents?.(events, item.partnerId);
      return !(await this.#trim(item, events));
    }
    // Lazily: entries are announced at once (the outbox holds them durably, and readers merge
    // it), written out as event items and trimmed together, every LAZY_TRIM_AT or at the end.
    const registration = `${item.tenantId}|${item.registrationId}`;
    const announced = this.#announced.get(registration) ?? 0;
    const fresh = events.filter((e) => e.data.sequence > announced);
    const trimNow = trim || events.length >= LAZY_TRIM_AT || !ACTIVE_STATUSES.has(item.status);
    // Every entry trimmed is an event item first (idempotent Puts: some may be written already).
    if (trimNow) await this.#writeOut(item, pk, events);
    if (fresh.length > 0) this.#onEvents?.(fresh, item.partnerId);
    if (this.#announced.size >= ANNOUNCED_MAX) this.#announced.clear();
    this.#announced.set(registration, Math.max(announced, events.at(-1)!.data.sequence));
    return trimNow ? !(await this.#trim(item, events)) : false;
  }

  async #writeOut(item: TenantItem, pk: string, events: TenantEvent[]): Promise<void> {
    await batchPut(
      this.#ctx,
      events.map(
        (e): EventItem => ({
          pk,
          sk: eventSortKey(e.data.sequence),
          kind: "event",
          partnerId: item.partnerId,
          id: e.id,
          type: e.type,
          timestamp: e.timestamp,
          data: e.data,
          firstSequence: item.firstSequence,
          ...(item.sequenceOffset && { sequenceOffset: item.sequenceOffset }),
          expiresAt: Math.floor(Date.parse(e.timestamp) / 1000) + this.#retentionSeconds,
        }),
      ),
    );
  }

  /** False when the outbox's head was not the first of `events` (someone trimmed them already). */
  async #trim(item: TenantItem, events: TenantEvent[]): Promise<boolean> {
    for (let start = 0; start < events.length; start += TRIM_BATCH) {
      const batch = events.slice(start, start + TRIM_BATCH);
      // Highest index first: dynalite applies list REMOVEs one after the other (DynamoDB does
      // not care about the order).
      const indexes = batch.map((_, i) => batch.length - 1 - i);
      try {
        await this.#ctx.client.send(
          new UpdateCommand({
            TableName: this.#ctx.table,
            Key: tenantKey(item.tenantId),
            UpdateExpression: `REMOVE ${indexes.map((i) => `outbox[${i}]`).join(", ")}`,
            ConditionExpression: "outbox[0].id = :head",
            ExpressionAttributeValues: { ":head": batch[0]!.id },
          }),
        );
      } catch (err) {
        // Someone else flushed these already.
        if (isConditionFailure(err)) return false;
        throw err;
      }
    }
    return true;
  }
}

/** Outbox entries as events: the outbox always holds the newest sequences, ending at `seq`. */
function pendingEvents(item: TenantItem): TenantEvent[] {
  const outbox = item.outbox ?? [];
  const first = (item.seq ?? 0) - outbox.length + 1;
  return outbox.map((entry, i) => ({
    id: entry.id,
    type: entry.type,
    timestamp: entry.timestamp,
    data: {
      tenantId: item.tenantId,
      status: entry.status,
      sequence: first + i,
      ...(entry.step ? { step: entry.step } : {}),
      ...(entry.error ? { error: entry.error } : {}),
      ...(entry.ndrAddressKept !== undefined ? { ndrAddressKept: entry.ndrAddressKept } : {}),
      ...(entry.drift !== undefined ? { drift: entry.drift } : {}),
    },
    ...(item.sequenceOffset && { sequenceOffset: item.sequenceOffset }),
  }));
}
