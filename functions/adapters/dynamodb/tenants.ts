/**
 * Tenants: registration, reads, lists and state changes of the tenant item
 * (`TENANT#<tenantId>` / `TENANT`). A state change is ONE UpdateItem that also appends the
 * event it causes to the item's `outbox` and takes the next sequence (`ADD seq 1`), so a
 * change and its event are durable together; `events.ts` then flushes the outbox. The
 * UpdateItems themselves are built by `tenant-registration.ts` and `tenant-transition.ts`; the
 * item's size guard is `tenant-size-guard.ts`.
 */
import { randomUUID } from "node:crypto";
import { ConflictError } from "../../domain/errors.ts";
import { IDENTIFIED_KINDS } from "../../domain/owned.ts";
import { registrationCount } from "../../domain/partner-sequence.ts";
import type { Page, StoredTenant, TenantChange } from "../../domain/store.ts";
import type { OnboardingRequest, Tenant, TenantEvent, TenantStatus } from "../../domain/tenant.ts";
import type { CursorCodec } from "./cursor.ts";
import type { TenantEvents } from "./events.ts";
import type { GroupParts } from "./group-parts.ts";
import { setScheduleKeys } from "./in-flight-due.ts";
import {
  allTenantsPk,
  isNewestFirstPosition,
  OPS_LIST_SHARDS,
  PARTNER_LIST_SHARDS,
  partnerTenantsPk,
  shards,
  tenantKey,
} from "./keys.ts";
import type { Memberships } from "./memberships.ts";
import { queryNewestFirst, type ShardedList } from "./newest-first.ts";
import { isConditionFailure, type TableContext } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";
import { type RegisterOptions, readTenantItem, type TenantItem, toStoredTenant } from "./tenant-item.ts";
import { registrationCommand } from "./tenant-registration.ts";
import { TenantSizeGuard } from "./tenant-size-guard.ts";
import { tenantConflict, transitionCommand, writesNestedMaps } from "./tenant-transition.ts";
import { isInvalidDocumentPath, UpdateExpression } from "./update-expression.ts";

/** Retries of a change whose event needs the current status, when that status moved meanwhile. */
const PINNED_STATUS_ATTEMPTS = 5;

export interface TenantRecordsOptions {
  events: TenantEvents;
  parts: GroupParts;
  memberships: Memberships;
  /** The tenant item may not grow past this (the guard); DynamoDB's own limit is 400 KB. */
  maxItemBytes: number;
  /** An offboarded tenant's item and group parts expire this long after offboarding (TTL). */
  offboardedRetentionDays: number;
}

export class TenantRecords {
  readonly #ctx: TableContext;
  readonly #cursors: CursorCodec;
  readonly #events: TenantEvents;
  readonly #parts: GroupParts;
  readonly #memberships: Memberships;
  readonly #sizes: TenantSizeGuard;
  readonly #offboardedRetentionSeconds: number;

  constructor(ctx: TableContext, cursors: CursorCodec, options: TenantRecordsOptions) {
    this.#ctx = ctx;
    this.#cursors = cursors;
    this.#events = options.events;
    this.#parts = options.parts;
    this.#memberships = options.memberships;
    this.#sizes = new TenantSizeGuard(options.maxItemBytes);
    this.#offboardedRetentionSeconds = Math.round(options.offboardedRetentionDays * 86_400);
  }

  /**
   * New tenants start `queued` with `run` 1: a registration is the start of a workflow run, so
   * the caller starts its execution with `internals.run` as is (no `newRun`). Replacing an
   * `offboarded` registration adds one to `run` and keeps the event sequence counting, so
   * execution names and event items never repeat; the new registration's events start after
   * the old ones and the old ones are not listed.
   */
  async registerTenant(
    partnerId: string,
    request: OnboardingRequest,
    now: string,
    options: RegisterOptions = {},
  ): Promise<StoredTenant> {
    const { tenantId } = request;
    const registrationId = randomUUID();
    // Event items outlive an expired tenant item: continue after their sequences.
    const floor = await this.#events.newestSequence(tenantId);
    // Who held the record before decides where the partner's sequence counts from.
    const previous = await readTenantItem(this.#ctx, tenantId);
    const groupsParts = await this.#parts.putIfLarge(tenantId, registrationId, request.groups, now);

    const u = registrationCommand({
      partnerId,
      request,
      now,
      createdAt: options.createdAt ?? now,
      registrationId,
      floor,
      groupsParts,
      takeOver: options.takeOver,
      previousPartnerId: previous?.partnerId,
      count: registrationCount(previous, partnerId),
    });
    for (let attempt = 0; ; attempt++) {
      try {
        const { Attributes } = await this.#ctx.client.send(u.command(this.#ctx.table, tenantKey(tenantId)));
        // Best effort: stale parts are never read (the tenant item names its registration).
        await this.#parts.deleteStale(tenantId, registrationId).catch(() => {});
        return toStoredTenant(Attributes as TenantItem, request.groups);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const current = await readTenantItem(this.#ctx, tenantId);
        // Our own write, retried by the SDK after a lost response.
        if (current?.registrationId === registrationId) return toStoredTenant(current, request.groups);
        if (current?.status === "offboarded" && current.outbox?.length && attempt === 0) {
          await this.#events.flush(tenantId);
          continue;
        }
        if (groupsParts) await this.#parts.delete(tenantId, registrationId, groupsParts).catch(() => {});
        throw new ConflictError(
          `Tenant ${tenantId} is already registered (status ${current?.status ?? "unknown"}).`,
        );
      }
    }
  }

  async getTenant(
    tenantId: string,
    options: { groups?: boolean; partnerId?: string } = {},
  ): Promise<StoredTenant | undefined> {
    const item = await this.#read(tenantId);
    // Another partner's tenant: nothing more is read (its group parts would take longer).
    if (!item || (options.partnerId !== undefined && item.partnerId !== options.partnerId)) return undefined;
    return toStoredTenant(item, options.groups === false ? undefined : await this.#parts.groupsOf(item));
  }

  async listOwnedMembers(tenantId: string, limit: number): Promise<string[]> {
    const item = await this.#read(tenantId);
    return item ? this.#memberships.list(item, limit) : [];
  }

  async #read(tenantId: string): Promise<TenantItem | undefined> {
    const item = await readTenantItem(this.#ctx, tenantId);
    if (item) this.#sizes.remember(item);
    return item;
  }

  async listTenants(query: {
    partnerId?: string;
    status?: TenantStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<Tenant>> {
    const page = await queryNewestFirst<TenantItem>(this.#ctx, this.#cursors, tenantList(query), query);
    // Without `groups`: they can be 2 x 10,000 members, stored apart; nobody lists them.
    const items = page.items.map((item) => toStoredTenant(item, undefined).tenant);
    return { items, ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /**
   * One conditional UpdateItem. Throws ConflictError when `expectStatus` does not hold, and
   * also when the tenant is not registered (the message says which).
   */
  async transition(
    tenantId: string,
    change: TenantChange,
    now: string,
  ): Promise<{ stored: StoredTenant; event?: TenantEvent }> {
    if (change.expectStatus?.length === 0) throw new TypeError("expectStatus must not be empty");
    if (change.own?.members?.length && change.disown?.members?.length)
      throw new TypeError("own and disown members in separate changes");
    const changeId = randomUUID();
    // Corrected groups too large for the item go to parts of their own first (named by this change).
    const groupsParts = await this.#parts.putIfLarge(tenantId, changeId, change.correct?.groups, now);
    const previous = change.correct?.groups ? await readTenantItem(this.#ctx, tenantId) : undefined;
    // The event records the status after the change. Without a new status and without a single
    // expected one, read it and make the write conditional on it (optimistic concurrency).
    const known = change.status ?? (change.expectStatus?.length === 1 ? change.expectStatus[0] : undefined);
    for (let attempt = 1; ; attempt++) {
      let pinned: TenantStatus | undefined;
      if (change.event && known === undefined) {
        const current = await readTenantItem(this.#ctx, tenantId);
        if (
          !current ||
          (change.expectStatus && !change.expectStatus.includes(current.status)) ||
          (change.expectRun !== undefined && current.run !== change.expectRun)
        ) {
          throw tenantConflict(tenantId, current, change.expectStatus, change.expectRun);
        }
        pinned = current.status;
      }
      const u = transitionCommand(change, {
        now,
        changeId,
        eventStatus: known ?? pinned,
        pinned,
        groupsParts,
        expiresAt: this.#expiry(now),
      });
      if (change.status) setScheduleKeys(u, tenantId, change.status, now);
      if (attempt === 1) this.#sizes.check(tenantId, change, u.values);
      let item: TenantItem;
      try {
        item = (await this.#ctx.client.send(u.command(this.#ctx.table, tenantKey(tenantId))))
          .Attributes as TenantItem;
      } catch (err) {
        if (writesNestedMaps(change) && isInvalidDocumentPath(err) && attempt < PINNED_STATUS_ATTEMPTS) {
          // A tenant registered before adopted objects (or identities) were recorded: give it the maps, then again.
          await this.#ensureAdoptedMap(tenantId);
          continue;
        }
        if (!isConditionFailure(err)) throw err;
        const current = await readTenantItem(this.#ctx, tenantId);
        if (current?.lastChangeId === changeId) {
          // Applied already: the SDK retried after a lost response.
          item = current;
        } else if (pinned !== undefined && attempt < PINNED_STATUS_ATTEMPTS) {
          continue;
        } else {
          if (groupsParts) await this.#parts.delete(tenantId, changeId, groupsParts).catch(() => {});
          throw tenantConflict(tenantId, current, change.expectStatus, change.expectRun);
        }
      }
      return this.#afterWrite(tenantId, change, { item, changeId, previous, now });
    }
  }

  /** What follows a stored change: group parts, memberships, the change's event, the outbox. */
  async #afterWrite(
    tenantId: string,
    change: TenantChange,
    {
      item,
      changeId,
      previous,
      now,
    }: { item: TenantItem; changeId: string; previous: TenantItem | undefined; now: string },
  ): Promise<{ stored: StoredTenant; event?: TenantEvent }> {
    if (previous?.groupsParts && (previous.groupsPartsId ?? previous.registrationId) !== changeId) {
      // The replaced groups' parts are no longer named by the item (best effort).
      await this.#parts
        .delete(tenantId, previous.groupsPartsId ?? previous.registrationId, previous.groupsParts)
        .catch(() => {});
    }
    this.#sizes.remember(item);
    if (change.status === "offboarded" && item.groupsParts) {
      // Its group parts go with it (best effort: parts nobody names are never read).
      await this.#parts
        .expire(tenantId, item.groupsPartsId ?? item.registrationId, item.groupsParts, this.#expiry(now))
        .catch(() => {});
    }
    // Memberships after the write that checked the change's conditions (run, attempt, status).
    if (change.own?.members?.length) await this.#memberships.own(tenantId, change.own.members, now);
    if (change.disown?.members?.length) await this.#memberships.disown(tenantId, change.disown.members);
    const event = change.event ? await this.#events.findOwnEvent(item, changeId) : undefined;
    if (item.outbox?.length && this.#events.flushAfterWrite)
      await this.#events.flush(tenantId, item, true).catch((err) => this.#events.onFlushError(err, tenantId));
    return { stored: toStoredTenant(item, await this.#parts.groupsOf(item)), ...(event ? { event } : {}) };
  }

  #expiry(fromIso: string): number {
    return Math.floor(Date.parse(fromIso) / 1000) + this.#offboardedRetentionSeconds;
  }

  async #ensureAdoptedMap(tenantId: string): Promise<void> {
    const u = new UpdateExpression();
    u.condition(`attribute_exists(${u.path("pk")})`);
    const adopted = u.path("adopted");
    u.set(adopted, `if_not_exists(${adopted}, ${u.value({ connectors: {}, journalRules: {} })})`);
    const ids = u.path("objectIds");
    u.set(ids, `if_not_exists(${ids}, ${u.value({})})`);
    await this.#ctx.client.send(u.command(this.#ctx.table, tenantKey(tenantId))).catch((err: unknown) => {
      if (!isConditionFailure(err)) throw err;
    });
    // Each kind's map apart: an item may have the map with only the kinds of its time.
    const kinds = new UpdateExpression();
    kinds.condition(`attribute_exists(${kinds.path("pk")})`);
    for (const kind of IDENTIFIED_KINDS) {
      const path = kinds.path("objectIds", kind);
      kinds.set(path, `if_not_exists(${path}, ${kinds.value({})})`);
    }
    await this.#ctx.client.send(kinds.command(this.#ctx.table, tenantKey(tenantId))).catch((err: unknown) => {
      if (!isConditionFailure(err)) throw err;
    });
  }
}

/** The sharded index list that holds the tenants asked for: all of them (ops), or one partner's. */
function tenantList(query: { partnerId?: string; status?: TenantStatus }): ShardedList {
  const { partnerId } = query;
  return partnerId === undefined
    ? {
        index: TABLE_INDEXES.all,
        partitions: shards(OPS_LIST_SHARDS, allTenantsPk),
        scope: `tenants|*|${query.status ?? "*"}`,
        isPosition: isNewestFirstPosition,
      }
    : {
        index: TABLE_INDEXES.byPartner,
        partitions: shards(PARTNER_LIST_SHARDS, (n) => partnerTenantsPk(partnerId, n)),
        scope: `tenants|${partnerId}|${query.status ?? "*"}`,
        isPosition: isNewestFirstPosition,
      };
}
