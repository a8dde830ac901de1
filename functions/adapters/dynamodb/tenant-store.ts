/**
 * The TenantStore port on DynamoDB (one table; key schema and access patterns in README.md).
 *
 * Each tenant is one item. A state change is ONE UpdateItem that also appends the event it
 * causes to the item's `outbox` and takes the next sequence (`ADD seq 1`), so a change and
 * its event are durable together. The outbox is then flushed: each entry becomes an event
 * item of its own (idempotent Put) and is trimmed from the head of the outbox. Anyone can
 * flush; readers merge the outbox, so nothing depends on the flush having happened.
 */
import { randomBytes, randomUUID } from "node:crypto";
import {
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  ScanCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { ConflictError, type ErrorInfo } from "../../domain/errors.ts";
import type {
  AdoptedObjects,
  ApiKeyInfo,
  ApiKeyPrincipal,
  OwnedKind,
  Page,
  Partner,
  Principal,
  StepPatch,
  StoredTenant,
  TenantChange,
  TenantInternals,
  TenantStore,
} from "../../domain/store.ts";
import {
  ALL_STEP_NAMES,
  type AnyStepName,
  type EventType,
  type GroupSpec,
  initialSteps,
  OFFBOARDING_STEP_NAMES,
  type OnboardingRequest,
  STEP_NAMES,
  type Step,
  type StepName,
  type StepStatus,
  type Tenant,
  type TenantEvent,
  type TenantStatus,
} from "../../domain/tenant.ts";
import { CursorCodec } from "./cursor.ts";
import {
  ALL_PARTNERS_PK,
  ALL_TENANTS_PK,
  apiKeyKey,
  EVENT_SK_MAX,
  eventSortKey,
  GROUPS_SK_PREFIX,
  groupsPartSortKey,
  idFromNewestFirstSortKey,
  newestFirstSortKey,
  PARTNER_API_KEY_SK_PREFIX,
  partnerApiKeyKey,
  partnerKey,
  partnerTenantsPk,
  tenantKey,
} from "./keys.ts";
import { isConditionFailure, queryAll } from "./query.ts";
import { TABLE_INDEXES } from "./schema.ts";

export { createDocumentClient, createDynamoClient } from "./client.ts";

/** Group specs up to this size live in the tenant item; larger ones (up to 2 x 10,000 members) in parts. */
const INLINE_GROUPS_MAX_BYTES = 32 * 1024;
const GROUPS_PART_BYTES = 300 * 1024;
/** Outbox entries trimmed per UpdateItem (keeps the expression far below its 4 KB limit). */
const TRIM_BATCH = 100;
const BATCH_WRITE_MAX = 25;
/** Retries of a change whose event needs the current status, when that status moved meanwhile. */
const PINNED_STATUS_ATTEMPTS = 5;

const OWNED_ATTRIBUTES: Record<OwnedKind, string> = {
  connectors: "ownedConnectors",
  groups: "ownedGroups",
  journalRules: "ownedJournalRules",
  members: "ownedMembers",
};

export interface DynamoTenantStoreOptions {
  client: DynamoDBDocumentClient;
  tableName: string;
  /**
   * HMAC key of pagination cursors. Give every instance of the service the same secret.
   * @default a key derived from the table name (tamper evidence, not secrecy)
   */
  cursorSecret?: string;
  /**
   * Called after outbox entries were written as event items, oldest first, before they are
   * trimmed from the outbox: at least once per event (again if a flush is repeated after a
   * crash, or by two processes at once), so consumers dedupe by event id.
   */
  onEvents?: (events: TenantEvent[], partnerId: string) => void;
  /** A flush that failed after the change itself was stored (the events stay in the outbox). @default console.error */
  onFlushError?: (err: unknown, tenantId: string) => void;
}

/** An event waiting in the tenant item; its sequence follows from its position (see `pendingEvents`). */
interface OutboxEntry {
  id: string;
  type: EventType;
  timestamp: string;
  status: TenantStatus;
  step?: StepName;
  error?: ErrorInfo;
  ndrAddressKept?: boolean;
}

interface StoredStep {
  status: StepStatus;
  /** What `resetSteps` goes back to (pending or skipped, fixed at registration). */
  initialStatus: StepStatus;
  attempts: number;
  startedAt?: string;
  finishedAt?: string;
  error?: ErrorInfo;
}

interface TenantItem {
  pk: string;
  sk: string;
  tenantId: string;
  partnerId: string;
  registrationId: string;
  customerName: string;
  region: Tenant["region"];
  outboundGateway: boolean;
  ndrAddress: string;
  groups?: { eu: GroupSpec; us: GroupSpec };
  groupsParts?: number;
  /** Prefix of the groups' parts when a PATCH replaced them; else `registrationId`. */
  groupsPartsId?: string;
  status: TenantStatus;
  /** Onboarding's steps always; offboarding's once it has started. */
  steps: Record<StepName, StoredStep> & Partial<Record<AnyStepName, StoredStep>>;
  consentUrl?: string;
  ndrAddressKept?: boolean;
  error?: ErrorInfo;
  createdAt: string;
  updatedAt: string;
  run: number;
  /** Sequence of the newest event (of any registration of this tenant id). */
  seq?: number;
  /** First sequence of the current registration: older events belong to a previous one. */
  firstSequence: number;
  outbox?: OutboxEntry[];
  lastChangeId?: string;
  ownedConnectors?: Set<string>;
  ownedGroups?: Set<string>;
  ownedJournalRules?: Set<string>;
  /** Memberships we added to groups we did not create: `[group, member]` as JSON. */
  ownedMembers?: Set<string>;
  previousNdrTo?: string | null;
  /** Previous values of adopted objects (bounded: at most two connectors and two rules). */
  adopted?: Partial<AdoptedObjects>;
  customizationEnabledAt?: string;
  ndrAddressSet?: string;
}

interface EventItem {
  pk: string;
  sk: string;
  kind: "event";
  partnerId: string;
  id: string;
  type: EventType;
  timestamp: string;
  data: TenantEvent["data"];
}

/** Collects the parts of an UpdateItem with generated placeholders (no user text in expressions). */
class UpdateExpression {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  readonly #set: string[] = [];
  readonly #remove: string[] = [];
  readonly #add: string[] = [];
  readonly #delete: string[] = [];
  readonly #conditions: string[] = [];
  readonly #placeholders = new Map<string, string>();
  #n = 0;

  /** Placeholders are reused per attribute name, and created only for names the expression uses. */
  path(...segments: string[]): string {
    return segments
      .map((segment) => {
        let placeholder = this.#placeholders.get(segment);
        if (!placeholder) {
          placeholder = `#n${this.#n++}`;
          this.#placeholders.set(segment, placeholder);
          this.names[placeholder] = segment;
        }
        return placeholder;
      })
      .join(".");
  }
  value(value: unknown): string {
    const placeholder = `:v${this.#n++}`;
    this.values[placeholder] = value;
    return placeholder;
  }
  set(path: string, expression: string): void {
    this.#set.push(`${path} = ${expression}`);
  }
  remove(path: string): void {
    this.#remove.push(path);
  }
  add(path: string, value: unknown): void {
    this.#add.push(`${path} ${this.value(value)}`);
  }
  delete(path: string, value: Set<string>): void {
    this.#delete.push(`${path} ${this.value(value)}`);
  }
  condition(expression: string): void {
    this.#conditions.push(`(${expression})`);
  }

  command(tableName: string, key: Record<string, string>) {
    const clauses = [
      this.#set.length ? `SET ${this.#set.join(", ")}` : "",
      this.#remove.length ? `REMOVE ${this.#remove.join(", ")}` : "",
      this.#add.length ? `ADD ${this.#add.join(", ")}` : "",
      this.#delete.length ? `DELETE ${this.#delete.join(", ")}` : "",
    ];
    return new UpdateCommand({
      TableName: tableName,
      Key: key,
      UpdateExpression: clauses.filter(Boolean).join(" "),
      ...(this.#conditions.length ? { ConditionExpression: this.#conditions.join(" AND ") } : {}),
      ExpressionAttributeNames: this.names,
      ...(Object.keys(this.values).length ? { ExpressionAttributeValues: this.values } : {}),
      ReturnValues: "ALL_NEW",
    });
  }
}

/**
 * {@link TenantStore} on one DynamoDB table.
 *
 * @example
 * const store = new DynamoTenantStore({ client: createDocumentClient(), tableName: "journal-onboarding" });
 * const { tenant } = await store.registerTenant("p_123", request, new Date().toISOString());
 */
export class DynamoTenantStore implements TenantStore {
  readonly #client: DynamoDBDocumentClient;
  readonly #table: string;
  readonly #cursors: CursorCodec;
  readonly #onEvents: DynamoTenantStoreOptions["onEvents"];
  readonly #onFlushError: (err: unknown, tenantId: string) => void;
  /** One flush per tenant at a time in this process; callers arriving meanwhile ask for another round. */
  readonly #flushing = new Map<string, { again: boolean; done: Promise<void> }>();

  constructor(options: DynamoTenantStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#cursors = new CursorCodec(options.cursorSecret ?? `journal-onboarding-cursor:${options.tableName}`);
    this.#onEvents = options.onEvents;
    this.#onFlushError =
      options.onFlushError ??
      ((err, tenantId) =>
        console.error(`outbox flush of tenant ${tenantId} failed; it is retried later`, err));
  }

  // ---- tenants -------------------------------------------------------------------------

  /**
   * New tenants start `queued` with `run` 1: a registration is the start of a workflow run, so
   * the caller starts its execution with `internals.run` as is (no `newRun`). Replacing an
   * `offboarded` registration adds one to `run` and keeps the event sequence counting, so
   * execution names and event items never repeat; the new registration's events start after
   * the old ones and the old ones are not listed.
   */
  async registerTenant(partnerId: string, request: OnboardingRequest, now: string): Promise<StoredTenant> {
    const { tenantId } = request;
    const registrationId = randomUUID();
    const groupsJson = request.groups ? JSON.stringify(request.groups) : undefined;
    const groupsParts =
      groupsJson && Buffer.byteLength(groupsJson) > INLINE_GROUPS_MAX_BYTES
        ? await this.#putGroupsParts(tenantId, registrationId, groupsJson, now)
        : 0;

    const u = new UpdateExpression();
    const steps = Object.fromEntries(
      initialSteps(request).map((s) => [s.name, { status: s.status, initialStatus: s.status, attempts: 0 }]),
    );
    const fields: Record<string, unknown> = {
      kind: "tenant",
      tenantId,
      partnerId,
      registrationId,
      customerName: request.customerName,
      region: request.region,
      outboundGateway: request.outboundGateway,
      ndrAddress: request.ndrAddress,
      status: "queued",
      steps,
      adopted: { connectors: {}, journalRules: {} },
      createdAt: now,
      updatedAt: now,
      lastChangeId: registrationId,
      gsi1pk: partnerTenantsPk(partnerId),
      gsi1sk: newestFirstSortKey(now, tenantId),
      gsi2pk: ALL_TENANTS_PK,
      gsi2sk: newestFirstSortKey(now, tenantId),
    };
    if (groupsParts) fields["groupsParts"] = groupsParts;
    else if (request.groups) fields["groups"] = request.groups;
    for (const [name, value] of Object.entries(fields)) u.set(u.path(name), u.value(value));
    const removed = [
      "groups",
      "groupsParts",
      "groupsPartsId",
      "error",
      "consentUrl",
      "previousNdrTo",
      "ndrAddressKept",
      "customizationEnabledAt",
      "ndrAddressSet",
      ...Object.values(OWNED_ATTRIBUTES),
    ];
    for (const name of removed) if (!(name in fields)) u.remove(u.path(name));
    const run = u.path("run");
    const seq = u.path("seq");
    u.set(run, `if_not_exists(${run}, ${u.value(0)}) + ${u.value(1)}`);
    u.set(u.path("firstSequence"), `if_not_exists(${seq}, ${u.value(0)}) + ${u.value(1)}`);
    // Events of the previous registration are flushed first: their items belong to that partner.
    const outbox = u.path("outbox");
    u.condition(
      `attribute_not_exists(${u.path("pk")}) OR (${u.path("status")} = ${u.value("offboarded")} AND ` +
        `(attribute_not_exists(${outbox}) OR size(${outbox}) = ${u.value(0)}))`,
    );

    for (let attempt = 0; ; attempt++) {
      try {
        const { Attributes } = await this.#client.send(u.command(this.#table, tenantKey(tenantId)));
        // Best effort: stale parts are never read (the tenant item names its registration).
        await this.#deleteStaleGroupsParts(tenantId, registrationId).catch(() => {});
        return this.#stored(Attributes as TenantItem, request.groups);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
        const current = await this.#getItem(tenantId);
        // Our own write, retried by the SDK after a lost response.
        if (current?.registrationId === registrationId) return this.#stored(current, request.groups);
        if (current?.status === "offboarded" && current.outbox?.length && attempt === 0) {
          await this.flushOutbox(tenantId);
          continue;
        }
        if (groupsParts) await this.#deleteGroupsParts(tenantId, registrationId, groupsParts).catch(() => {});
        throw new ConflictError(
          `Tenant ${tenantId} is already registered (status ${current?.status ?? "unknown"}).`,
        );
      }
    }
  }

  async getTenant(tenantId: string): Promise<StoredTenant | undefined> {
    const item = await this.#getItem(tenantId);
    return item && this.#stored(item, await this.#groupsOf(item));
  }

  async listTenants(query: {
    partnerId?: string;
    status?: TenantStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<Tenant>> {
    const index = query.partnerId === undefined ? TABLE_INDEXES.all : TABLE_INDEXES.byPartner;
    const partition = query.partnerId === undefined ? ALL_TENANTS_PK : partnerTenantsPk(query.partnerId);
    const scope = `tenants|${partition}|${query.status ?? "*"}`;
    const page = await this.#newestFirst<TenantItem>(index, partition, scope, query, (position) =>
      tenantKey(idFromNewestFirstSortKey(position)),
    );
    // Without `groups`: they can be 2 x 10,000 members, stored apart; nobody lists them.
    const items = page.items.map((item) => this.#stored(item, undefined).tenant);
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
    const changeId = randomUUID();
    // Corrected groups too large for the item go to parts of their own first (named by this change).
    const groupsJson = change.correct?.groups ? JSON.stringify(change.correct.groups) : undefined;
    const groupsParts =
      groupsJson && Buffer.byteLength(groupsJson) > INLINE_GROUPS_MAX_BYTES
        ? await this.#putGroupsParts(tenantId, changeId, groupsJson, now)
        : 0;
    const previous = groupsJson ? await this.#getItem(tenantId) : undefined;
    // The event records the status after the change. Without a new status and without a single
    // expected one, read it and make the write conditional on it (optimistic concurrency).
    const known = change.status ?? (change.expectStatus?.length === 1 ? change.expectStatus[0] : undefined);
    for (let attempt = 1; ; attempt++) {
      let pinned: TenantStatus | undefined;
      if (change.event && known === undefined) {
        const current = await this.#getItem(tenantId);
        if (
          !current ||
          (change.expectStatus && !change.expectStatus.includes(current.status)) ||
          (change.expectRun !== undefined && current.run !== change.expectRun)
        ) {
          throw this.#conflict(tenantId, current, change.expectStatus, change.expectRun);
        }
        pinned = current.status;
      }
      const command = this.#transitionCommand(
        tenantId,
        change,
        now,
        changeId,
        known ?? pinned,
        pinned,
        groupsParts,
      );
      let item: TenantItem;
      try {
        item = (await this.#client.send(command)).Attributes as TenantItem;
      } catch (err) {
        if (change.adopt && isInvalidDocumentPath(err) && attempt < PINNED_STATUS_ATTEMPTS) {
          // A tenant registered before adopted objects were recorded: give it the map, then again.
          await this.#ensureAdoptedMap(tenantId);
          continue;
        }
        if (!isConditionFailure(err)) throw err;
        const current = await this.#getItem(tenantId);
        if (current?.lastChangeId === changeId) {
          // Applied already: the SDK retried after a lost response.
          item = current;
        } else if (pinned !== undefined && attempt < PINNED_STATUS_ATTEMPTS) {
          continue;
        } else {
          if (groupsParts) await this.#deleteGroupsParts(tenantId, changeId, groupsParts).catch(() => {});
          throw this.#conflict(tenantId, current, change.expectStatus, change.expectRun);
        }
      }
      if (previous?.groupsParts && (previous.groupsPartsId ?? previous.registrationId) !== changeId) {
        // The replaced groups' parts are no longer named by the item (best effort).
        await this.#deleteGroupsParts(
          tenantId,
          previous.groupsPartsId ?? previous.registrationId,
          previous.groupsParts,
        ).catch(() => {});
      }
      const event = change.event ? await this.#findOwnEvent(item, changeId) : undefined;
      if (item.outbox?.length)
        await this.#flush(tenantId, item).catch((err) => this.#onFlushError(err, tenantId));
      return { stored: this.#stored(item, await this.#groupsOf(item)), ...(event ? { event } : {}) };
    }
  }

  async #ensureAdoptedMap(tenantId: string): Promise<void> {
    const u = new UpdateExpression();
    u.condition(`attribute_exists(${u.path("pk")})`);
    const adopted = u.path("adopted");
    u.set(adopted, `if_not_exists(${adopted}, ${u.value({ connectors: {}, journalRules: {} })})`);
    await this.#client.send(u.command(this.#table, tenantKey(tenantId))).catch((err: unknown) => {
      if (!isConditionFailure(err)) throw err;
    });
  }

  /** A page of `listEvents`; the cursor is the last sequence of the page, signed for this tenant. */
  async pageEvents(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<TenantEvent>> {
    const scope = `events:${tenantId}`;
    const afterSequence =
      query.cursor === undefined
        ? undefined
        : Number(this.#cursors.decode(scope, query.cursor, (p) => /^(0|[1-9][0-9]{0,14})$/.test(p)));
    const events = await this.listEvents(tenantId, {
      limit: query.limit + 1,
      ...(afterSequence !== undefined && { afterSequence }),
    });
    if (events.length <= query.limit) return { items: events };
    const items = events.slice(0, query.limit);
    return { items, nextCursor: this.#cursors.encode(scope, String(items.at(-1)!.data.sequence)) };
  }

  /** Oldest first: the event items of the current registration merged with the outbox. */
  async listEvents(
    tenantId: string,
    query: { afterSequence?: number; limit?: number } = {},
  ): Promise<TenantEvent[]> {
    // Read the outbox BEFORE the event items: entries are trimmed only after they were
    // written as items, so an entry missing from this outbox is found by the query below.
    const item = await this.#getItem(tenantId);
    if (!item) return [];
    const from = Math.max((query.afterSequence ?? 0) + 1, item.firstSequence);
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    if (!(limit >= 1) || (Number.isFinite(limit) && !Number.isInteger(limit)))
      throw new RangeError("limit must be >= 1");
    const pending = pendingEvents(item).filter((e) => e.data.sequence >= from);
    const materialisedBefore = pending[0]?.data.sequence;
    const bySequence = new Map<number, TenantEvent>();
    if (materialisedBefore === undefined || materialisedBefore > from) {
      let startKey: Record<string, unknown> | undefined;
      do {
        const result = await this.#client.send(
          new QueryCommand({
            TableName: this.#table,
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
          bySequence.set(e.data.sequence, { id: e.id, type: e.type, timestamp: e.timestamp, data: e.data });
        }
        startKey = result.LastEvaluatedKey;
      } while (startKey && bySequence.size < limit);
    }
    for (const e of pending) if (!bySequence.has(e.data.sequence)) bySequence.set(e.data.sequence, e);
    return [...bySequence.values()].sort((a, b) => a.data.sequence - b.data.sequence).slice(0, limit);
  }

  /**
   * Writes the tenant's pending outbox entries as event items and trims them from the
   * outbox. Idempotent and safe to run anywhere at any time (e.g. by a DynamoDB Stream
   * consumer on the tenant item, or at start-up after a crash).
   */
  flushOutbox(tenantId: string): Promise<void> {
    return this.#flush(tenantId);
  }

  /**
   * Flushes every tenant whose outbox is not empty (a Scan: for the local runtime's start-up
   * after a crash; in AWS a Stream consumer on tenant items calls `flushOutbox` instead).
   * Returns how many tenants had pending events.
   */
  async flushAllOutboxes(): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#client.send(
        new ScanCommand({
          TableName: this.#table,
          FilterExpression: "sk = :tenant AND size(outbox) > :zero",
          ExpressionAttributeValues: { ":tenant": "TENANT", ":zero": 0 },
          ProjectionExpression: "tenantId",
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of result.Items ?? []) {
        await this.flushOutbox(item["tenantId"] as string);
        count++;
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  // ---- partners and API keys -----------------------------------------------------------

  async createPartner(name: string, now: string): Promise<Partner> {
    const partner: Partner = { partnerId: `p_${randomBytes(10).toString("hex")}`, name, createdAt: now };
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...partnerKey(partner.partnerId),
          kind: "partner",
          ...partner,
          gsi2pk: ALL_PARTNERS_PK,
          gsi2sk: newestFirstSortKey(now, partner.partnerId),
        },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
    return partner;
  }

  async getPartner(partnerId: string): Promise<Partner | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: partnerKey(partnerId), ConsistentRead: true }),
    );
    return Item && toPartner(Item);
  }

  async listPartners(query: { limit: number; cursor?: string }): Promise<Page<Partner>> {
    const page = await this.#newestFirst<Record<string, unknown>>(
      TABLE_INDEXES.all,
      ALL_PARTNERS_PK,
      "partners",
      query,
      (position) => partnerKey(idFromNewestFirstSortKey(position)),
    );
    return { items: page.items.map(toPartner), ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}) };
  }

  /** `keyHash` is the SHA-256 of the key (hex or base64url); the key itself never reaches the store. */
  async putApiKey(
    keyHash: string,
    principal: Principal,
    now: string,
    meta?: { keyId: string; usageKey?: boolean },
  ): Promise<void> {
    if (!/^(?:[0-9a-f]{64}|[A-Za-z0-9_-]{43})$/.test(keyHash)) {
      throw new TypeError("putApiKey expects the SHA-256 hash of the key, hex or base64url");
    }
    if (principal.role === "partner" && !principal.partnerId)
      throw new TypeError("a partner key needs a partnerId");
    if (meta && principal.partnerId) {
      // Listed first: a key that works is always listed, hence revocable.
      await this.#client.send(
        new PutCommand({
          TableName: this.#table,
          Item: {
            ...partnerApiKeyKey(principal.partnerId, meta.keyId),
            kind: "partnerApiKey",
            keyId: meta.keyId,
            keyHash,
            createdAt: now,
          },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
    }
    await this.#client.send(
      new PutCommand({
        TableName: this.#table,
        Item: {
          ...apiKeyKey(keyHash),
          kind: "apiKey",
          ...principal,
          createdAt: now,
          ...(meta && { keyId: meta.keyId }),
          ...(meta?.usageKey && { usageKey: true }),
        },
      }),
    );
  }

  async findApiKey(keyHash: string): Promise<ApiKeyPrincipal | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: apiKeyKey(keyHash), ConsistentRead: true }),
    );
    if (!Item) return undefined;
    return {
      role: Item["role"],
      ...(Item["partnerId"] ? { partnerId: Item["partnerId"] } : {}),
      ...(Item["usageKey"] === true ? { usageKey: true } : {}),
    };
  }

  async listApiKeys(partnerId: string): Promise<ApiKeyInfo[]> {
    const keys: ApiKeyInfo[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const result = await this.#client.send(
        new QueryCommand({
          TableName: this.#table,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ExpressionAttributeValues: {
            ":pk": partnerKey(partnerId).pk,
            ":prefix": PARTNER_API_KEY_SK_PREFIX,
          },
          ConsistentRead: true,
          ...(startKey && { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of result.Items ?? []) {
        keys.push({ keyId: item["keyId"] as string, createdAt: item["createdAt"] as string });
      }
      startKey = result.LastEvaluatedKey;
    } while (startKey);
    return keys.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.keyId.localeCompare(b.keyId));
  }

  async revokeApiKey(partnerId: string, keyId: string): Promise<boolean> {
    const { Item } = await this.#client.send(
      new GetCommand({
        TableName: this.#table,
        Key: partnerApiKeyKey(partnerId, keyId),
        ConsistentRead: true,
      }),
    );
    if (!Item) return false;
    // The lookup item goes first: from this write on, the key authenticates nothing.
    await this.#client.send(
      new DeleteCommand({ TableName: this.#table, Key: apiKeyKey(Item["keyHash"] as string) }),
    );
    await this.#client.send(
      new DeleteCommand({ TableName: this.#table, Key: partnerApiKeyKey(partnerId, keyId) }),
    );
    return true;
  }

  // ---- internals -----------------------------------------------------------------------

  #transitionCommand(
    tenantId: string,
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
    const lastChange = u.path("lastChangeId");
    const changeIdValue = u.value(changeId);
    u.condition(`attribute_not_exists(${lastChange}) OR ${lastChange} <> ${changeIdValue}`);
    u.set(lastChange, changeIdValue);
    u.set(u.path("updatedAt"), u.value(now));
    if (change.status) u.set(u.path("status"), u.value(change.status));
    for (const name of ["error", "consentUrl"] as const) {
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
    for (const kind of Object.keys(OWNED_ATTRIBUTES) as OwnedKind[]) {
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
    if (change.ndrAddressKept === null) u.remove(u.path("ndrAddressKept"));
    else if (change.ndrAddressKept !== undefined)
      u.set(u.path("ndrAddressKept"), u.value(change.ndrAddressKept));
    if (change.adopt && change.release) throw new TypeError("adopt and release in separate changes");
    if (change.adopt) {
      const path = u.path("adopted", change.adopt.kind, change.adopt.name);
      u.set(path, `if_not_exists(${path}, ${u.value(change.adopt.previous)})`);
    }
    if (change.release) u.remove(u.path("adopted", change.release.kind, change.release.name));
    this.#stepUpdates(u, change);
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
      };
      const outbox = u.path("outbox");
      u.add(u.path("seq"), 1);
      u.set(outbox, `list_append(if_not_exists(${outbox}, ${u.value([])}), ${u.value([entry])})`);
    }
    return u.command(this.#table, tenantKey(tenantId));
  }

  /** Per step, one assignment per field: a reset and a patch of the same step merge (paths must not overlap). */
  #stepUpdates(u: UpdateExpression, change: TenantChange): void {
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
        for (const f of ["startedAt", "finishedAt", "error"]) fields.set(f, "remove");
      }
      if (patch) {
        if (patch.status) fields.set("status", { value: patch.status });
        if (patch.startedAt) fields.set("startedAt", { value: patch.startedAt });
        if (patch.finishedAt) fields.set("finishedAt", { value: patch.finishedAt });
        if (patch.error === null) fields.set("error", "remove");
        else if (patch.error) fields.set("error", { value: patch.error });
        if (patch.countAttempt) fields.set("attempts", "increment");
        if (patch.initialStatus) fields.set("initialStatus", { value: patch.initialStatus });
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

  #conflict(
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

  /** Our event in the state right after our write: the outbox's last entry, unless a retry path read a later state. */
  async #findOwnEvent(item: TenantItem, changeId: string): Promise<TenantEvent | undefined> {
    const pending = pendingEvents(item).find((e) => e.id === changeId);
    if (pending) return pending;
    const events = await this.listEvents(item.tenantId);
    return events.find((e) => e.id === changeId);
  }

  #flush(tenantId: string, snapshot?: TenantItem): Promise<void> {
    const running = this.#flushing.get(tenantId);
    if (running) {
      running.again = true;
      return running.done;
    }
    const state = { again: false, done: Promise.resolve() };
    state.done = (async () => {
      try {
        let item = snapshot;
        do {
          state.again = false;
          item ??= await this.#getItem(tenantId);
          if (item) await this.#flushItem(item);
          item = undefined;
        } while (state.again);
      } finally {
        this.#flushing.delete(tenantId);
      }
    })();
    this.#flushing.set(tenantId, state);
    return state.done;
  }

  async #flushItem(item: TenantItem): Promise<void> {
    const events = pendingEvents(item);
    if (events.length === 0) return;
    const { pk } = tenantKey(item.tenantId);
    await this.#batchPut(
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
        }),
      ),
    );
    this.#onEvents?.(events, item.partnerId);
    for (let start = 0; start < events.length; start += TRIM_BATCH) {
      const batch = events.slice(start, start + TRIM_BATCH);
      // Highest index first: dynalite applies list REMOVEs one after the other (DynamoDB does
      // not care about the order).
      const indexes = batch.map((_, i) => batch.length - 1 - i);
      try {
        await this.#client.send(
          new UpdateCommand({
            TableName: this.#table,
            Key: tenantKey(item.tenantId),
            UpdateExpression: `REMOVE ${indexes.map((i) => `outbox[${i}]`).join(", ")}`,
            ConditionExpression: "outbox[0].id = :head",
            ExpressionAttributeValues: { ":head": batch[0]!.id },
          }),
        );
      } catch (err) {
        // Someone else flushed these already.
        if (isConditionFailure(err)) return;
        throw err;
      }
    }
  }

  async #batchPut(items: object[]): Promise<void> {
    for (let start = 0; start < items.length; start += BATCH_WRITE_MAX) {
      let requests = items.slice(start, start + BATCH_WRITE_MAX).map((Item) => ({ PutRequest: { Item } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0)
          await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** attempt * Math.random())));
        const { UnprocessedItems } = await this.#client.send(
          new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }),
        );
        requests = (UnprocessedItems?.[this.#table] ?? []) as typeof requests;
        if (attempt > 8 && requests.length)
          throw new Error("BatchWriteItem kept returning unprocessed items");
      }
    }
  }

  async #newestFirst<T>(
    index: { name: string; partitionKey: string; sortKey: string },
    partition: string,
    scope: string,
    query: { status?: TenantStatus; limit: number; cursor?: string },
    baseKey: (position: string) => Record<string, string>,
  ): Promise<{ items: T[]; nextCursor?: string }> {
    const { limit } = query;
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new RangeError("limit must be 1-100");
    let startKey: Record<string, unknown> | undefined;
    if (query.cursor !== undefined) {
      const position = this.#cursors.decode(scope, query.cursor, (p) => /^[^#]{1,64}#[^#]{1,128}$/.test(p));
      startKey = { ...baseKey(position), [index.partitionKey]: partition, [index.sortKey]: position };
    }
    const collected: Record<string, unknown>[] = [];
    // Fetch one more than asked to know whether a next page exists; a status filter is applied
    // after DynamoDB's Limit, so keep reading until the page is full.
    do {
      const input: QueryCommandInput = {
        TableName: this.#table,
        IndexName: index.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": index.partitionKey },
        ExpressionAttributeValues: { ":pk": partition },
        ScanIndexForward: false,
        Limit: query.status ? 200 : limit + 1 - collected.length,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      };
      if (query.status) {
        input.FilterExpression = "#status = :status";
        input.ExpressionAttributeNames!["#status"] = "status";
        input.ExpressionAttributeValues![":status"] = query.status;
      }
      const result = await this.#client.send(new QueryCommand(input));
      collected.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
    } while (startKey && collected.length <= limit);
    if (collected.length <= limit) return { items: collected as T[] };
    const items = collected.slice(0, limit);
    const last = items[limit - 1]![index.sortKey] as string;
    return { items: items as T[], nextCursor: this.#cursors.encode(scope, last) };
  }

  async #getItem(tenantId: string): Promise<TenantItem | undefined> {
    const { Item } = await this.#client.send(
      new GetCommand({ TableName: this.#table, Key: tenantKey(tenantId), ConsistentRead: true }),
    );
    return Item as TenantItem | undefined;
  }

  async #putGroupsParts(
    tenantId: string,
    registrationId: string,
    json: string,
    now: string,
  ): Promise<number> {
    const bytes = Buffer.from(json);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i += GROUPS_PART_BYTES)
      parts.push(bytes.subarray(i, i + GROUPS_PART_BYTES));
    const { pk } = tenantKey(tenantId);
    await Promise.all(
      parts.map((data, part) =>
        this.#client.send(
          new PutCommand({
            TableName: this.#table,
            Item: {
              pk,
              sk: groupsPartSortKey(registrationId, part),
              kind: "groupsPart",
              createdAt: now,
              data,
            },
          }),
        ),
      ),
    );
    return parts.length;
  }

  async #groupsOf(item: TenantItem): Promise<TenantItem["groups"]> {
    if (!item.groupsParts) return item.groups;
    const { pk } = tenantKey(item.tenantId);
    const items = await queryAll(this.#client, {
      TableName: this.#table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
      ExpressionAttributeValues: {
        ":pk": pk,
        ":prefix": groupsPartSortKey(item.groupsPartsId ?? item.registrationId, 0).slice(0, -3),
      },
      ConsistentRead: true,
    });
    const parts = items.map((part) => part["data"] as Uint8Array);
    if (parts.length !== item.groupsParts)
      throw new Error(`groups of tenant ${item.tenantId} are incomplete`);
    return JSON.parse(Buffer.concat(parts).toString("utf8"));
  }

  async #deleteGroupsParts(tenantId: string, registrationId: string, count: number): Promise<void> {
    const { pk } = tenantKey(tenantId);
    await this.#batchDelete(
      Array.from({ length: count }, (_, i) => ({ pk, sk: groupsPartSortKey(registrationId, i) })),
    );
  }

  /** Parts of earlier registrations of this tenant id (or of a registration that lost a race). */
  async #deleteStaleGroupsParts(tenantId: string, registrationId: string): Promise<void> {
    const { pk } = tenantKey(tenantId);
    const result = await this.#client.send(
      new QueryCommand({
        TableName: this.#table,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues: { ":pk": pk, ":prefix": GROUPS_SK_PREFIX },
        ProjectionExpression: "pk, sk",
      }),
    );
    const stale = (result.Items ?? []).filter(
      (i) => !(i["sk"] as string).startsWith(`${GROUPS_SK_PREFIX}${registrationId}#`),
    );
    await this.#batchDelete(stale as { pk: string; sk: string }[]);
  }

  async #batchDelete(keys: { pk: string; sk: string }[]): Promise<void> {
    for (let start = 0; start < keys.length; start += BATCH_WRITE_MAX) {
      const requests = keys.slice(start, start + BATCH_WRITE_MAX).map((Key) => ({ DeleteRequest: { Key } }));
      await this.#client.send(new BatchWriteCommand({ RequestItems: { [this.#table]: requests } }));
    }
  }

  #stored(item: TenantItem, groups: TenantItem["groups"]): StoredTenant {
    const tenant: Tenant = {
      tenantId: item.tenantId,
      partnerId: item.partnerId,
      customerName: item.customerName,
      region: item.region,
      outboundGateway: item.outboundGateway,
      ndrAddress: item.ndrAddress,
      ...(groups ? { groups } : {}),
      status: item.status,
      steps: [
        ...STEP_NAMES.map((name) => toStep(name, item.steps[name])),
        ...OFFBOARDING_STEP_NAMES.filter((name) => item.steps[name] !== undefined).map((name) =>
          toStep(name, item.steps[name]),
        ),
      ],
      ...(item.consentUrl ? { consentUrl: item.consentUrl } : {}),
      ...(item.ndrAddressKept !== undefined ? { ndrAddressKept: item.ndrAddressKept } : {}),
      ...(item.error ? { error: item.error } : {}),
      createdAt: item.createdAt,
      updatedAt: item.updatedAt,
    };
    const sorted = (set: Set<string> | undefined) => [...(set ?? [])].sort();
    const internals: TenantInternals = {
      run: item.run,
      owned: {
        connectors: sorted(item.ownedConnectors),
        groups: sorted(item.ownedGroups),
        journalRules: sorted(item.ownedJournalRules),
        members: sorted(item.ownedMembers),
      },
      adopted: {
        connectors: { ...(item.adopted?.connectors ?? {}) },
        journalRules: { ...(item.adopted?.journalRules ?? {}) },
      },
      ...("previousNdrTo" in item ? { previousNdrTo: item.previousNdrTo ?? null } : {}),
      ...(item.customizationEnabledAt ? { customizationEnabledAt: item.customizationEnabledAt } : {}),
      ...(item.ndrAddressSet ? { ndrAddressSet: item.ndrAddressSet } : {}),
    };
    return { tenant, internals };
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
    },
  }));
}

function toStep(name: AnyStepName, stored: StoredStep | undefined): Step {
  if (!stored) return { name, status: "skipped", attempts: 0 };
  return {
    name,
    status: stored.status,
    attempts: stored.attempts,
    ...(stored.startedAt ? { startedAt: stored.startedAt } : {}),
    ...(stored.finishedAt ? { finishedAt: stored.finishedAt } : {}),
    ...(stored.error ? { error: stored.error } : {}),
  };
}

/** DynamoDB's answer to a SET on a nested path whose parent map does not exist. */
function isInvalidDocumentPath(err: unknown): boolean {
  return (
    err instanceof Error &&
    err.name === "ValidationException" &&
    /document path provided in the update expression is invalid/i.test(err.message)
  );
}

function toPartner(item: Record<string, unknown>): Partner {
  return {
    partnerId: item["partnerId"] as string,
    name: item["name"] as string,
    createdAt: item["createdAt"] as string,
  };
}
