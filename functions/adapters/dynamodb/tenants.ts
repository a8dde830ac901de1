/**
 * Tenants: registration, reads, lists and state changes of the tenant item
 * (`TENANT#<tenantId>` / `TENANT`). A state change is ONE UpdateItem that also appends the
 * event it causes to the item's `outbox` and takes the next sequence (`ADD seq 1`), so a
 * change and its event are durable together; `events.ts` then flushes the outbox.
 */
import { randomUUID } from "node:crypto";
import { ConflictError, StateLimitError } from "../../domain/errors.ts";
import type { OwnedObjectKind, Page, StepPatch, StoredTenant, TenantChange } from "../../domain/store.ts";
import {
  ALL_STEP_NAMES,
  HAND_OVER_STEP,
  initialSteps,
  type OnboardingRequest,
  STEP_NAMES,
  type Tenant,
  type TenantEvent,
  type TenantStatus,
} from "../../domain/tenant.ts";
import type { CursorCodec } from "./cursor.ts";
import { DRIFT_DUE_ATTRIBUTES, setDriftDue } from "./drift-due.ts";
import type { TenantEvents } from "./events.ts";
import type { GroupParts } from "./group-parts.ts";
import { itemBytes } from "./item-size.ts";
import {
  allTenantsPk,
  isNewestFirstPosition,
  newestFirstSortKey,
  OPS_LIST_SHARDS,
  PARTNER_LIST_SHARDS,
  partnerTenantsPk,
  shards,
  tenantKey,
  tenantListKeys,
} from "./keys.ts";
import type { Memberships } from "./memberships.ts";
import { queryNewestFirst, type ShardedList } from "./newest-first.ts";
import { isConditionFailure, type TableContext } from "./query.ts";
import { TABLE_INDEXES, TABLE_KEYS } from "./schema.ts";
import {
  type OutboxEntry,
  OWNED_ATTRIBUTES,
  type RegisterOptions,
  readTenantItem,
  recordIncarnation,
  SERVICE_KNOWLEDGE,
  type StoredStep,
  type TenantItem,
  toStoredTenant,
} from "./tenant-item.ts";
import { isInvalidDocumentPath, UpdateExpression } from "./update-expression.ts";

/** Retries of a change whose event needs the current status, when that status moved meanwhile. */
const PINNED_STATUS_ATTEMPTS = 5;
/** Tenant item sizes remembered per process (the guard's estimate), at most this many tenants. */
const KNOWN_SIZES_MAX = 10_000;

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
  readonly #maxItemBytes: number;
  readonly #offboardedRetentionSeconds: number;
  /** The size of each tenant item as last read or written by this process. */
  readonly #sizes = new Map<string, number>();

  constructor(ctx: TableContext, cursors: CursorCodec, options: TenantRecordsOptions) {
    this.#ctx = ctx;
    this.#cursors = cursors;
    this.#events = options.events;
    this.#parts = options.parts;
    this.#memberships = options.memberships;
    this.#maxItemBytes = options.maxItemBytes;
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
    const takeOver = options.takeOver;
    const createdAt = options.createdAt ?? now;
    const { tenantId } = request;
    const registrationId = randomUUID();
    // Event items outlive an expired tenant item: continue after their sequences.
    const floor = await this.#events.newestSequence(tenantId);
    const groupsParts = await this.#parts.putIfLarge(tenantId, registrationId, request.groups, now);

    const u = new UpdateExpression();
    const steps: Record<string, unknown> = Object.fromEntries(
      initialSteps(request).map((s) => [s.name, { status: s.status, initialStatus: s.status, attempts: 0 }]),
    );
    // A change of owner: the previous owner's journaling stops first (see HAND_OVER_STEP).
    if (takeOver) steps[HAND_OVER_STEP] = { status: "pending", initialStatus: "pending", attempts: 0 };
    const fields: Record<string, unknown> = {
      kind: "tenant",
      tenantId,
      partnerId,
      registrationId,
      incarnation: recordIncarnation(registrationId),
      customerName: request.customerName,
      region: request.region,
      outboundGateway: request.outboundGateway,
      ndrAddress: request.ndrAddress,
      status: "queued",
      steps,
      createdAt,
      updatedAt: now,
      lastChangeId: registrationId,
      ...tenantListKeys(partnerId, tenantId, newestFirstSortKey(createdAt, tenantId)),
    };
    // A change of owner keeps what the service knows of the tenant (see `RegisterOptions`).
    if (!takeOver) fields["adopted"] = { connectors: {}, journalRules: {} };
    if (groupsParts) fields["groupsParts"] = groupsParts;
    else if (request.groups) fields["groups"] = request.groups;
    if (request.onDrift) fields["onDrift"] = request.onDrift;
    if (request.approval) fields["approval"] = request.approval;
    for (const [name, value] of Object.entries(fields)) u.set(u.path(name), u.value(value));
    const removed = [
      "groups",
      "groupsParts",
      "groupsPartsId",
      "error",
      "consentUrl",
      "missingPermissions",
      "previousNdrTo",
      "ndrAddressKept",
      "customizationEnabledAt",
      "ndrAddressSet",
      TABLE_KEYS.ttl,
      "ownedMembers",
      "onDrift",
      "approval",
      "plan",
      "approvedPlan",
      "drift",
      "requestedBy",
      "remediations",
      ...DRIFT_DUE_ATTRIBUTES,
      ...Object.values(OWNED_ATTRIBUTES),
    ];
    const kept = new Set<string>(takeOver ? SERVICE_KNOWLEDGE : []);
    for (const name of removed) if (!(name in fields) && !kept.has(name)) u.remove(u.path(name));
    const run = u.path("run");
    const seq = u.path("seq");
    u.set(run, `if_not_exists(${run}, ${u.value(0)}) + ${u.value(1)}`);
    u.set(seq, `if_not_exists(${seq}, ${u.value(floor)})`);
    u.set(u.path("firstSequence"), `if_not_exists(${seq}, ${u.value(floor)}) + ${u.value(1)}`);
    // Events of the previous registration are flushed first: their items belong to that partner.
    const outbox = u.path("outbox");
    const replaceable =
      `${u.path("status")} = ${u.value("offboarded")} AND ` +
      `(attribute_not_exists(${outbox}) OR size(${outbox}) = ${u.value(0)})`;
    u.condition(
      takeOver
        ? `${replaceable} AND ${run} = ${u.value(takeOver.run)}`
        : `attribute_not_exists(${u.path("pk")}) OR (${replaceable})`,
    );

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
    if (item) this.#remember(item);
    return item;
  }

  #remember(item: TenantItem): void {
    if (this.#sizes.size >= KNOWN_SIZES_MAX) this.#sizes.clear();
    this.#sizes.set(item.tenantId, itemBytes(item as unknown as Record<string, unknown>));
  }

  /**
   * The guard: a change that adds to what the tenant item remembers (owned objects, adopted
   * values, a correction) is refused when the item, as this process last saw it, plus what the
   * change writes would pass `maxItemBytes`. Status, step and error changes always pass, so
   * that a tenant can still fail, be retried and be offboarded.
   */
  #guard(tenantId: string, change: TenantChange, written: Record<string, unknown>): void {
    const grows =
      Object.entries(change.own ?? {}).some(([kind, names]) => kind !== "members" && names?.length) ||
      change.adopt !== undefined ||
      change.correct !== undefined;
    if (!grows) return;
    const known = this.#sizes.get(tenantId) ?? 0;
    const added = itemBytes(written);
    if (known + added > this.#maxItemBytes) {
      throw new StateLimitError(
        `The tenant's state record would grow to about ${Math.ceil((known + added) / 1024)} KB (limit ${Math.floor(this.#maxItemBytes / 1024)} KB); the change was not stored.`,
      );
    }
  }

  async listTenants(query: {
    partnerId?: string;
    status?: TenantStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<Tenant>> {
    const { partnerId } = query;
    const list: ShardedList =
      partnerId === undefined
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
    const page = await queryNewestFirst<TenantItem>(this.#ctx, this.#cursors, list, query);
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
          throw conflict(tenantId, current, change.expectStatus, change.expectRun);
        }
        pinned = current.status;
      }
      const u = this.#transitionCommand(change, now, changeId, known ?? pinned, pinned, groupsParts);
      if (change.status) setDriftDue(u, tenantId, change.status, now);
      if (attempt === 1) this.#guard(tenantId, change, u.values);
      let item: TenantItem;
      try {
        item = (await this.#ctx.client.send(u.command(this.#ctx.table, tenantKey(tenantId))))
          .Attributes as TenantItem;
      } catch (err) {
        if (change.adopt && isInvalidDocumentPath(err) && attempt < PINNED_STATUS_ATTEMPTS) {
          // A tenant registered before adopted objects were recorded: give it the map, then again.
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
          throw conflict(tenantId, current, change.expectStatus, change.expectRun);
        }
      }
      if (previous?.groupsParts && (previous.groupsPartsId ?? previous.registrationId) !== changeId) {
        // The replaced groups' parts are no longer named by the item (best effort).
        await this.#parts
          .delete(tenantId, previous.groupsPartsId ?? previous.registrationId, previous.groupsParts)
          .catch(() => {});
      }
      this.#remember(item);
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
        await this.#events
          .flush(tenantId, item, true)
          .catch((err) => this.#events.onFlushError(err, tenantId));
      return { stored: toStoredTenant(item, await this.#parts.groupsOf(item)), ...(event ? { event } : {}) };
    }
  }

  #expiry(fromIso: string): number {
    return Math.floor(Date.parse(fromIso) / 1000) + this.#offboardedRetentionSeconds;
  }

  async #ensureAdoptedMap(tenantId: string): Promise<void> {
    const u = new UpdateExpression();
    u.condition(`attribute_exists(${u.path("pk")})`);
    const adopted = u.path("adopted");
    u.set(adopted, `if_not_exists(${adopted}, ${u.value({ connectors: {}, journalRules: {} })})`);
    await this.#ctx.client.send(u.command(this.#ctx.table, tenantKey(tenantId))).catch((err: unknown) => {
      if (!isConditionFailure(err)) throw err;
    });
  }

  #transitionCommand(
    change: TenantChange,
    now: string,
    changeId: string,
    eventStatus: TenantStatus | undefined,
    pinned: TenantStatus | undefined,
    groupsParts = 0,
  ) {
    const u = new UpdateExpression();
    u.condition(`attribute_exists(${u.path("pk")})`);
    if (change.expectStatus) {
      u.condition(`${u.path("status")} IN (${change.expectStatus.map((s) => u.value(s)).join(", ")})`);
    }
    if (pinned !== undefined) u.condition(`${u.path("status")} = ${u.value(pinned)}`);
    if (change.expectRun !== undefined) u.condition(`${u.path("run")} = ${u.value(change.expectRun)}`);
    if (change.expectAttempt) {
      const { step, attempts } = change.expectAttempt;
      u.condition(`${u.path("steps", step, "attempts")} = ${u.value(attempts)}`);
    }
    const lastChange = u.path("lastChangeId");
    const changeIdValue = u.value(changeId);
    u.condition(`attribute_not_exists(${lastChange}) OR ${lastChange} <> ${changeIdValue}`);
    u.set(lastChange, changeIdValue);
    u.set(u.path("updatedAt"), u.value(now));
    if (change.status) u.set(u.path("status"), u.value(change.status));
    // An offboarded tenant expires (TTL) unless registered again meanwhile (which removes it).
    if (change.status === "offboarded") u.set(u.path(TABLE_KEYS.ttl), u.value(this.#expiry(now)));
    else if (change.status) u.remove(u.path(TABLE_KEYS.ttl));
    for (const name of ["error", "consentUrl", "missingPermissions"] as const) {
      const value = change[name];
      if (value === null) u.remove(u.path(name));
      else if (value !== undefined) u.set(u.path(name), u.value(value));
    }
    if (change.newRun) u.add(u.path("run"), 1);
    const { groups, ...fields } = change.correct ?? {};
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined) u.set(u.path(name), u.value(value));
    }
    if (groupsParts) {
      u.set(u.path("groupsParts"), u.value(groupsParts));
      u.set(u.path("groupsPartsId"), u.value(changeId));
      u.remove(u.path("groups"));
    } else if (groups) {
      u.set(u.path("groups"), u.value(groups));
      u.remove(u.path("groupsParts"));
      u.remove(u.path("groupsPartsId"));
    }
    for (const kind of Object.keys(OWNED_ATTRIBUTES) as OwnedObjectKind[]) {
      const own = change.own?.[kind] ?? [];
      const disown = change.disown?.[kind] ?? [];
      if (own.length && disown.length) throw new TypeError(`own and disown ${kind} in separate changes`);
      if (own.length) u.add(u.path(OWNED_ATTRIBUTES[kind]), new Set(own));
      if (disown.length) u.delete(u.path(OWNED_ATTRIBUTES[kind]), new Set(disown));
    }
    if (change.previousNdrTo !== undefined) {
      const previous = u.path("previousNdrTo");
      u.set(previous, `if_not_exists(${previous}, ${u.value(change.previousNdrTo)})`);
    }
    if (change.customizationEnabledAt !== undefined) {
      // A claim: exactly one writer records, replaces or forgets it (the others get a ConflictError).
      const at = u.path("customizationEnabledAt");
      if (change.customizationClaimWas === undefined) u.condition(`attribute_not_exists(${at})`);
      else u.condition(`${at} = ${u.value(change.customizationClaimWas)}`);
      if (change.customizationEnabledAt === null) u.remove(at);
      else u.set(at, u.value(change.customizationEnabledAt));
    }
    if (change.ndrAddressSet !== undefined) u.set(u.path("ndrAddressSet"), u.value(change.ndrAddressSet));
    for (const name of ["drift", "plan", "approvedPlan"] as const) {
      const value = change[name];
      if (value === null) u.remove(u.path(name));
      else if (value !== undefined) u.set(u.path(name), u.value(value));
    }
    if (change.requestedBy !== undefined) u.set(u.path("requestedBy"), u.value(change.requestedBy));
    if (change.remediations !== undefined) u.set(u.path("remediations"), u.value(change.remediations));
    if (change.ndrAddressKept === null) u.remove(u.path("ndrAddressKept"));
    else if (change.ndrAddressKept !== undefined)
      u.set(u.path("ndrAddressKept"), u.value(change.ndrAddressKept));
    if (change.adopt && change.release) throw new TypeError("adopt and release in separate changes");
    if (change.adopt) {
      const path = u.path("adopted", change.adopt.kind, change.adopt.name);
      u.set(path, `if_not_exists(${path}, ${u.value(change.adopt.previous)})`);
    }
    if (change.release) u.remove(u.path("adopted", change.release.kind, change.release.name));
    stepUpdates(u, change);
    if (change.event) {
      if (eventStatus === undefined) throw new Error("unreachable: event status unknown");
      const entry: OutboxEntry = {
        id: changeId,
        type: change.event.type,
        timestamp: now,
        status: eventStatus,
        ...(change.event.step ? { step: change.event.step } : {}),
        ...(change.event.error ? { error: change.event.error } : {}),
        ...(change.event.ndrAddressKept !== undefined ? { ndrAddressKept: change.event.ndrAddressKept } : {}),
        ...(change.event.drift !== undefined ? { drift: change.event.drift } : {}),
      };
      const outbox = u.path("outbox");
      u.add(u.path("seq"), 1);
      u.set(outbox, `list_append(if_not_exists(${outbox}, ${u.value([])}), ${u.value([entry])})`);
    }
    return u;
  }
}

/** Per step, one assignment per field: a reset and a patch of the same step merge (paths must not overlap). */
function stepUpdates(u: UpdateExpression, change: TenantChange): void {
  for (const name of ALL_STEP_NAMES) {
    const patch: StepPatch | undefined = change.steps?.[name];
    if (patch?.fresh) {
      // A step shown for the first time (offboarding's): the whole object, attempts from 0.
      const step: StoredStep = { status: patch.status ?? "pending", initialStatus: "pending", attempts: 0 };
      u.set(u.path("steps", name), u.value(step));
      continue;
    }
    const fields = new Map<string, { value: unknown } | { fromPath: string } | "remove" | "increment">();
    if (change.resetSteps && (STEP_NAMES as readonly string[]).includes(name)) {
      fields.set("status", { fromPath: "initialStatus" });
      for (const f of ["startedAt", "finishedAt", "error", "progress", "waitingUntil"])
        fields.set(f, "remove");
    }
    if (patch) {
      if (patch.status) fields.set("status", { value: patch.status });
      if (patch.startedAt) fields.set("startedAt", { value: patch.startedAt });
      if (patch.finishedAt) fields.set("finishedAt", { value: patch.finishedAt });
      if (patch.error === null) fields.set("error", "remove");
      else if (patch.error) fields.set("error", { value: patch.error });
      if (patch.countAttempt) fields.set("attempts", "increment");
      if (patch.initialStatus) fields.set("initialStatus", { value: patch.initialStatus });
      if (patch.progress === null) fields.set("progress", "remove");
      else if (patch.progress) fields.set("progress", { value: patch.progress });
      if (patch.waitingUntil === null) fields.set("waitingUntil", "remove");
      else if (patch.waitingUntil) fields.set("waitingUntil", { value: patch.waitingUntil });
    }
    for (const [field, op] of fields) {
      const path = u.path("steps", name, field);
      if (op === "remove") u.remove(path);
      else if (op === "increment") u.set(path, `${path} + ${u.value(1)}`);
      else if ("fromPath" in op) u.set(path, u.path("steps", name, op.fromPath));
      else u.set(path, u.value(op.value));
    }
  }
  for (const name of Object.keys(change.steps ?? {})) {
    if (!(ALL_STEP_NAMES as readonly string[]).includes(name)) throw new TypeError(`unknown step ${name}`);
  }
}

function conflict(
  tenantId: string,
  current: TenantItem | undefined,
  expected: readonly TenantStatus[] | undefined,
  run?: number,
) {
  if (!current) return new ConflictError(`Tenant ${tenantId} is not registered.`);
  if (run !== undefined && current.run !== run) {
    return new ConflictError(`Tenant ${tenantId} has moved on to run ${current.run}; run ${run} is stale.`);
  }
  const needs = expected ? `; this needs one of: ${expected.join(", ")}` : "";
  return new ConflictError(`Tenant ${tenantId} is ${current.status}${needs}.`);
}
