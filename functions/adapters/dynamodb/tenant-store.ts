/**
 * The TenantStore port on DynamoDB (one table; key schema and access patterns in README.md).
 * A facade over one module per item family, each with its keys, writes and bounds:
 * `tenants.ts` (tenant item: registration, state changes), `events.ts` (outbox and event
 * items), `group-parts.ts` (large group specifications), `partners.ts`, `api-keys.ts`;
 * shared: `tenant-item.ts`, `keys.ts`, `update-expression.ts`, `newest-first.ts`, `query.ts`.
 */
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { type Retention, retentionFromEnv } from "../../commons/config.ts";
import type {
  ApiKeyInfo,
  ApiKeyPrincipal,
  Page,
  Partner,
  Principal,
  StoredTenant,
  TenantChange,
  TenantStore,
} from "../../domain/store.ts";
import type { OnboardingRequest, Tenant, TenantEvent, TenantStatus } from "../../domain/tenant.ts";
import { ApiKeyRecords } from "./api-keys.ts";
import { CursorCodec } from "./cursor.ts";
import { claimDriftCheck, releaseDriftCheck } from "./drift-check-claims.ts";
import { TenantEvents } from "./events.ts";
import { GroupParts } from "./group-parts.ts";
import { Memberships } from "./memberships.ts";
import { PartnerRecords } from "./partners.ts";
import type { TableContext } from "./query.ts";
import type { RegisterOptions } from "./tenant-item.ts";
import { TenantRecords } from "./tenants.ts";

export { createDocumentClient, createDynamoClient } from "./client.ts";

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
  /**
   * The guard: a change that would make a tenant item larger than this is refused with a
   * StateLimitError (DynamoDB's limit is 400 KB; the margin keeps status changes possible).
   * @default 300 KiB
   */
  maxItemBytes?: number;
  /**
   * TTL of event items (from their time) and of an offboarded tenant (from its offboarding).
   * @default `EVENT_RETENTION_DAYS` (90) and `OFFBOARDED_RETENTION_DAYS` (30)
   */
  retention?: Retention;
  /**
   * Whether a state change writes out its outbox itself (two more requests per event: the
   * event items, then the trim). Off where a stream consumer does it for every tenant item
   * whose new image holds outbox entries (the AWS stack's stream forwarder): the writer then
   * returns right after its one UpdateItem, and the events are not written twice.
   * @default true
   */
  flushAfterWrite?: boolean;
  /**
   * The local runtime (the one process writing its table's events): a running workflow's
   * outbox is trimmed once per 8 events instead of after each (see `TenantEventsOptions`).
   * @default false
   */
  lazyOutboxTrim?: boolean;
}

const DEFAULT_MAX_ITEM_BYTES = 300 * 1024;

/**
 * {@link TenantStore} on one DynamoDB table.
 *
 * @example
 * const store = new DynamoTenantStore({ client: createDocumentClient(), tableName: "journal-onboarding" });
 * const { tenant } = await store.registerTenant("p_123", request, new Date().toISOString());
 */
export class DynamoTenantStore implements TenantStore {
  readonly #ctx: TableContext;
  readonly #tenants: TenantRecords;
  readonly #events: TenantEvents;
  readonly #partners: PartnerRecords;
  readonly #apiKeys: ApiKeyRecords;

  constructor(options: DynamoTenantStoreOptions) {
    const ctx: TableContext = { client: options.client, table: options.tableName };
    this.#ctx = ctx;
    const retention = options.retention ?? retentionFromEnv();
    const cursors = new CursorCodec(options.cursorSecret ?? `journal-onboarding-cursor:${options.tableName}`);
    this.#events = new TenantEvents(ctx, cursors, {
      ...(options.onEvents ? { onEvents: options.onEvents } : {}),
      eventRetentionDays: retention.eventDays,
      ...(options.flushAfterWrite === false ? { flushAfterWrite: false } : {}),
      ...(options.lazyOutboxTrim ? { lazyTrim: true } : {}),
      onFlushError:
        options.onFlushError ??
        ((err, tenantId) =>
          console.error(`outbox flush of tenant ${tenantId} failed; it is retried later`, err)),
    });
    this.#tenants = new TenantRecords(ctx, cursors, {
      events: this.#events,
      parts: new GroupParts(ctx),
      memberships: new Memberships(ctx),
      maxItemBytes: options.maxItemBytes ?? DEFAULT_MAX_ITEM_BYTES,
      offboardedRetentionDays: retention.offboardedDays,
    });
    this.#partners = new PartnerRecords(ctx, cursors);
    this.#apiKeys = new ApiKeyRecords(ctx);
  }

  // ---- tenants -------------------------------------------------------------------------

  registerTenant(
    partnerId: string,
    request: OnboardingRequest,
    now: string,
    options?: RegisterOptions,
  ): Promise<StoredTenant> {
    return this.#tenants.registerTenant(partnerId, request, now, options);
  }

  getTenant(
    tenantId: string,
    options?: { groups?: boolean; partnerId?: string },
  ): Promise<StoredTenant | undefined> {
    return this.#tenants.getTenant(tenantId, options);
  }

  claimDriftCheck(tenantId: string, now: Date): Promise<string | undefined> {
    return claimDriftCheck(this.#ctx, tenantId, now);
  }

  releaseDriftCheck(tenantId: string, claim: string): Promise<void> {
    return releaseDriftCheck(this.#ctx, tenantId, claim);
  }

  listOwnedMembers(tenantId: string, limit: number): Promise<string[]> {
    return this.#tenants.listOwnedMembers(tenantId, limit);
  }

  listTenants(query: {
    partnerId?: string;
    status?: TenantStatus;
    limit: number;
    cursor?: string;
  }): Promise<Page<Tenant>> {
    return this.#tenants.listTenants(query);
  }

  transition(
    tenantId: string,
    change: TenantChange,
    now: string,
  ): Promise<{ stored: StoredTenant; event?: TenantEvent }> {
    return this.#tenants.transition(tenantId, change, now);
  }

  // ---- events --------------------------------------------------------------------------

  pageEvents(tenantId: string, query: { limit: number; cursor?: string }): Promise<Page<TenantEvent>> {
    return this.#events.pageEvents(tenantId, query);
  }

  listEvents(
    tenantId: string,
    query: { afterSequence?: number; limit?: number } = {},
  ): Promise<TenantEvent[]> {
    return this.#events.listEvents(tenantId, query);
  }

  /**
   * Writes the tenant's pending outbox entries as event items and trims them from the
   * outbox. Idempotent and safe to run anywhere at any time (e.g. by a DynamoDB Stream
   * consumer on the tenant item, or at start-up after a crash).
   */
  flushOutbox(tenantId: string): Promise<void> {
    return this.#events.flush(tenantId);
  }

  /**
   * Flushes every tenant whose outbox is not empty (a Scan: for the local runtime's start-up
   * after a crash; in AWS a Stream consumer on tenant items calls `flushOutbox` instead).
   * Returns how many tenants had pending events.
   */
  flushAllOutboxes(): Promise<number> {
    return this.#events.flushAll();
  }

  // ---- partners and API keys -----------------------------------------------------------

  createPartner(name: string, now: string): Promise<Partner> {
    return this.#partners.createPartner(name, now);
  }

  getPartner(partnerId: string): Promise<Partner | undefined> {
    return this.#partners.getPartner(partnerId);
  }

  listPartners(query: { limit: number; cursor?: string }): Promise<Page<Partner>> {
    return this.#partners.listPartners(query);
  }

  putApiKey(
    keyHash: string,
    principal: Principal,
    now: string,
    meta?: { keyId: string; usageKey?: boolean; maxKeys?: number },
  ): Promise<void> {
    return this.#apiKeys.putApiKey(keyHash, principal, now, meta);
  }

  findApiKey(keyHash: string): Promise<ApiKeyPrincipal | undefined> {
    return this.#apiKeys.findApiKey(keyHash);
  }

  listApiKeys(partnerId: string): Promise<ApiKeyInfo[]> {
    return this.#apiKeys.listApiKeys(partnerId);
  }

  revokeApiKey(partnerId: string, keyId: string): Promise<boolean> {
    return this.#apiKeys.revokeApiKey(partnerId, keyId);
  }
}
