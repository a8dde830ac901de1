/**
 * The ClaimStore port (functions/domain/binding.ts) on the one table: a partner's claim on a
 * tenant that is not bound to it, a previous owner's record, and customer-name reservations.
 *
 * | item | pk | sk | index keys |
 * |---|---|---|---|
 * | claim (open, failed, or a former binding) | `TENANT#<tenantId>` | `CLAIM#<partnerId>` | listed with the tenants (`tenantListKeys`, sharded by tenantId), position `<createdAt>#<tenantId>/<partnerId>` |
 * | customer name (`customer-names.ts`) | `CUSTOMER#<customerName>` | `CUSTOMER` | |
 *
 * A claim item has the tenant item's request and status attributes (so tenant lists show it
 * as is), `kind: "claim"`, `former` (a previous binding), `groupsGz` (the requested groups,
 * gzip'd JSON: up to 2 x 10,000 members fit in the item), `events` (its own short history,
 * sequences from 1, the newest 20) and, while open, `claimExpiresAt` (ISO) and the table's TTL
 * attribute (epoch seconds), so that DynamoDB removes a lapsed claim.
 */
import { randomUUID } from "node:crypto";
import { gunzipSync, gzipSync } from "node:zlib";
import { DeleteCommand, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import {
  CLAIM_LIFETIME_MS,
  type ClaimChange,
  type ClaimStore,
  CONSENT_PENDING,
  type StoredClaim,
} from "../../domain/binding.ts";
import { ConflictError } from "../../domain/errors.ts";
import type { Page } from "../../domain/store.ts";
import {
  type GroupSpec,
  initialSteps,
  type OnboardingRequest,
  RUN_STEP_NAMES,
  type Tenant,
  type TenantEvent,
  type TenantStatus,
} from "../../domain/tenant.ts";
import { CursorCodec } from "./cursor.ts";
import { CustomerNames } from "./customer-names.ts";
import { newestFirstSortKey, tenantListKeys } from "./keys.ts";
import { isConditionFailure, queryAll, type TableContext } from "./query.ts";
import { TABLE_KEYS } from "./schema.ts";

export const CLAIM_SK_PREFIX = "CLAIM#";
export const claimKey = (tenantId: string, partnerId: string) => ({
  pk: `TENANT#${tenantId}`,
  sk: `${CLAIM_SK_PREFIX}${partnerId}`,
});
/** Index sort-key id of a claim (`<tenantId>/<partnerId>`): tells a claim from a tenant in list cursors. */
export const claimListId = (tenantId: string, partnerId: string) => `${tenantId}/${partnerId}`;

/** A claim keeps its newest events only (it has a few: claimed, renewed, bound elsewhere). */
const MAX_CLAIM_EVENTS = 20;
/** The gzip'd groups must leave room for the rest of the item (400 KB). */
const MAX_GROUPS_GZ_BYTES = 300 * 1024;

interface ClaimItem {
  pk: string;
  sk: string;
  kind: "claim";
  tenantId: string;
  partnerId: string;
  customerName: string;
  region: Tenant["region"];
  outboundGateway: boolean;
  ndrAddress: string;
  onDrift?: OnboardingRequest["onDrift"];
  approval?: OnboardingRequest["approval"];
  groupsGz?: Uint8Array;
  status: TenantStatus;
  steps: Record<string, { status: string; initialStatus: string; attempts: number }>;
  error?: Tenant["error"];
  ndrAddressKept?: boolean;
  former?: boolean;
  createdAt: string;
  updatedAt: string;
  claimExpiresAt?: string;
  events: TenantEvent[];
  claimSeq: number;
}

export class DynamoClaimStore implements ClaimStore {
  readonly #ctx: TableContext;
  readonly #cursors: CursorCodec;
  readonly #names: CustomerNames;

  constructor(options: { client: TableContext["client"]; tableName: string; cursorSecret?: string }) {
    this.#ctx = { client: options.client, table: options.tableName };
    this.#names = new CustomerNames(this.#ctx);
    this.#cursors = new CursorCodec(options.cursorSecret ?? `journal-onboarding-cursor:${options.tableName}`);
  }

  async getClaim(tenantId: string, partnerId: string): Promise<StoredClaim | undefined> {
    const { Item } = await this.#ctx.client.send(
      new GetCommand({
        TableName: this.#ctx.table,
        Key: claimKey(tenantId, partnerId),
        ConsistentRead: true,
      }),
    );
    return Item ? toClaim(Item as ClaimItem) : undefined;
  }

  async putClaim(partnerId: string, request: OnboardingRequest, now: string): Promise<StoredClaim> {
    const { tenantId } = request;
    const expiresAt = new Date(Date.parse(now) + CLAIM_LIFETIME_MS);
    const item: ClaimItem = {
      ...claimKey(tenantId, partnerId),
      kind: "claim",
      tenantId,
      partnerId,
      customerName: request.customerName,
      region: request.region,
      outboundGateway: request.outboundGateway,
      ndrAddress: request.ndrAddress,
      ...(request.onDrift && { onDrift: request.onDrift }),
      ...(request.approval && { approval: request.approval }),
      ...(request.groups && { groupsGz: gzipGroups(request.groups) }),
      status: "awaiting_consent",
      steps: Object.fromEntries(
        initialSteps(request).map((s) => [
          s.name,
          { status: s.status, initialStatus: s.status, attempts: 0 },
        ]),
      ),
      error: CONSENT_PENDING,
      createdAt: now,
      updatedAt: now,
      claimExpiresAt: expiresAt.toISOString(),
      events: [],
      claimSeq: 0,
    };
    appendEvent(item, { type: "tenant.onboarding.awaiting_consent", error: CONSENT_PENDING }, now);
    const listId = claimListId(tenantId, partnerId);
    try {
      await this.#ctx.client.send(
        new PutCommand({
          TableName: this.#ctx.table,
          Item: {
            ...item,
            [TABLE_KEYS.ttl]: Math.floor(expiresAt.getTime() / 1000),
            ...tenantListKeys(partnerId, tenantId, newestFirstSortKey(now, listId)),
          },
          // An open claim that has not lapsed blocks only its own partner's second POST.
          ConditionExpression:
            "attribute_not_exists(pk) OR #status <> :open OR #expires <= :now OR attribute_not_exists(#expires)",
          ExpressionAttributeNames: { "#status": "status", "#expires": "claimExpiresAt" },
          ExpressionAttributeValues: { ":open": "awaiting_consent", ":now": now },
        }),
      );
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      throw new ConflictError(`Tenant ${tenantId} is already awaiting the customer's consent.`);
    }
    return toClaim(item);
  }

  async updateClaim(
    tenantId: string,
    partnerId: string,
    change: ClaimChange,
    now: string,
  ): Promise<StoredClaim> {
    // Claims change rarely and only by their partner or the binding: read, change, write back
    // on the condition that nobody wrote meanwhile (updatedAt + claimSeq).
    for (let attempt = 0; attempt < 3; attempt++) {
      const { Item } = await this.#ctx.client.send(
        new GetCommand({
          TableName: this.#ctx.table,
          Key: claimKey(tenantId, partnerId),
          ConsistentRead: true,
        }),
      );
      if (!Item) throw new ConflictError(`Tenant ${tenantId} is not claimed.`);
      const item = Item as ClaimItem & Record<string, unknown>;
      if (change.expectStatus && !change.expectStatus.includes(item.status)) {
        throw new ConflictError(`Tenant ${tenantId} is ${item.status}.`);
      }
      const seen = { updatedAt: item.updatedAt, claimSeq: item.claimSeq };
      if (change.status) item.status = change.status;
      if (change.error === null) delete item.error;
      else if (change.error) item.error = change.error;
      if (change.correct) {
        const { groups, ...fields } = change.correct;
        Object.assign(item, fields);
        if (groups) item.groupsGz = gzipGroups(groups);
        if (fields.outboundGateway !== undefined || groups) {
          const request = { region: item.region, outboundGateway: item.outboundGateway };
          item.steps = Object.fromEntries(
            initialSteps(request).map((s) => [
              s.name,
              { status: s.status, initialStatus: s.status, attempts: 0 },
            ]),
          );
        }
      }
      if (change.renew) {
        const expiresAt = new Date(Date.parse(now) + CLAIM_LIFETIME_MS);
        item.claimExpiresAt = expiresAt.toISOString();
        item[TABLE_KEYS.ttl] = Math.floor(expiresAt.getTime() / 1000);
      } else if (item.status !== "awaiting_consent") {
        // Only an open claim lapses: a failed or former record stays readable.
        delete item.claimExpiresAt;
        delete item[TABLE_KEYS.ttl];
      }
      if (change.event) appendEvent(item, change.event, now);
      item.updatedAt = now;
      try {
        await this.#ctx.client.send(
          new PutCommand({
            TableName: this.#ctx.table,
            Item: item,
            ConditionExpression: "#u = :u AND #s = :s",
            ExpressionAttributeNames: { "#u": "updatedAt", "#s": "claimSeq" },
            ExpressionAttributeValues: { ":u": seen.updatedAt, ":s": seen.claimSeq },
          }),
        );
        return toClaim(item);
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    throw new ConflictError(`Tenant ${tenantId} changed meanwhile; try again.`);
  }

  async deleteClaim(tenantId: string, partnerId: string): Promise<void> {
    await this.#ctx.client.send(
      new DeleteCommand({ TableName: this.#ctx.table, Key: claimKey(tenantId, partnerId) }),
    );
  }

  async listClaims(tenantId: string): Promise<StoredClaim[]> {
    const items = await queryAll(this.#ctx.client, {
      TableName: this.#ctx.table,
      KeyConditionExpression: "pk = :pk AND begins_with(sk, :claim)",
      ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":claim": CLAIM_SK_PREFIX },
      ConsistentRead: true,
    });
    return items.map((item) => toClaim(item as unknown as ClaimItem));
  }

  async putFormerRecord(tenant: Tenant, now: string): Promise<void> {
    const listId = claimListId(tenant.tenantId, tenant.partnerId);
    const item: ClaimItem = {
      ...claimKey(tenant.tenantId, tenant.partnerId),
      kind: "claim",
      former: true,
      tenantId: tenant.tenantId,
      partnerId: tenant.partnerId,
      customerName: tenant.customerName,
      region: tenant.region,
      outboundGateway: tenant.outboundGateway,
      ndrAddress: tenant.ndrAddress,
      ...(tenant.onDrift && { onDrift: tenant.onDrift }),
      ...(tenant.approval && { approval: tenant.approval }),
      status: "offboarded",
      steps: Object.fromEntries(
        tenant.steps.map((s) => [s.name, { ...s, initialStatus: s.status }]),
      ) as ClaimItem["steps"],
      ...(tenant.ndrAddressKept && { ndrAddressKept: true }),
      ...(tenant.error && { error: tenant.error }),
      createdAt: tenant.createdAt,
      updatedAt: now,
      events: [],
      claimSeq: 0,
    };
    appendEvent(
      item,
      { type: "tenant.offboarding.succeeded", ...(tenant.error && { error: tenant.error }) },
      now,
    );
    await this.#ctx.client.send(
      new PutCommand({
        TableName: this.#ctx.table,
        Item: {
          ...item,
          ...tenantListKeys(tenant.partnerId, tenant.tenantId, newestFirstSortKey(tenant.createdAt, listId)),
        },
      }),
    );
  }

  reserveCustomerName(
    customerName: string,
    tenantId: string,
    partnerId: string,
    now: string,
  ): Promise<boolean> {
    return this.#names.reserve(customerName, tenantId, partnerId, now);
  }

  pageClaimEvents(claim: StoredClaim, query: { limit: number; cursor?: string }): Page<TenantEvent> {
    const scope = `claim-events|${claim.tenant.tenantId}|${claim.tenant.partnerId}`;
    const start =
      query.cursor === undefined
        ? 0
        : Number(this.#cursors.decode(scope, query.cursor, (p) => /^[0-9]{1,3}#x$/.test(p)).split("#")[0]);
    const items = claim.events.slice(start, start + query.limit);
    const next = start + items.length;
    return {
      items,
      ...(next < claim.events.length && { nextCursor: this.#cursors.encode(scope, `${next}#x`) }),
    };
  }
}

function appendEvent(item: ClaimItem, event: NonNullable<ClaimChange["event"]>, now: string): void {
  item.claimSeq += 1;
  item.events = [
    ...item.events,
    {
      id: `evt_${randomUUID()}`,
      type: event.type,
      timestamp: now,
      data: {
        tenantId: item.tenantId,
        status: item.status,
        sequence: item.claimSeq,
        ...(event.error && { error: event.error }),
      },
    },
  ].slice(-MAX_CLAIM_EVENTS);
}

function gzipGroups(groups: { eu: GroupSpec; us: GroupSpec }): Uint8Array {
  const gz = gzipSync(JSON.stringify(groups));
  if (gz.length > MAX_GROUPS_GZ_BYTES) throw new RangeError("groups too large to hold before consent");
  return gz;
}

function toClaim(item: ClaimItem): StoredClaim {
  const groups = item.groupsGz
    ? (JSON.parse(gunzipSync(Buffer.from(item.groupsGz)).toString("utf8")) as {
        eu: GroupSpec;
        us: GroupSpec;
      })
    : undefined;
  const request: OnboardingRequest = {
    tenantId: item.tenantId,
    customerName: item.customerName,
    region: item.region,
    outboundGateway: item.outboundGateway,
    ndrAddress: item.ndrAddress,
    ...(item.onDrift && { onDrift: item.onDrift }),
    ...(item.approval && { approval: item.approval }),
    ...(groups && { groups }),
  };
  const known = new Set<string>(RUN_STEP_NAMES);
  const steps = [
    ...RUN_STEP_NAMES.map((name) => item.steps[name] && { name, ...item.steps[name] }),
    ...Object.entries(item.steps)
      .filter(([name]) => !known.has(name))
      .map(([name, s]) => ({ name, ...s })),
  ]
    .filter((s) => s !== undefined)
    .map(({ initialStatus: _initial, ...s }) => s) as Tenant["steps"];
  const tenant: Tenant = {
    ...request,
    partnerId: item.partnerId,
    status: item.status,
    steps,
    ...(item.error && { error: item.error }),
    ...(item.ndrAddressKept && { ndrAddressKept: true }),
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
  return {
    tenant,
    request,
    former: item.former === true,
    ...(item.claimExpiresAt && { expiresAt: item.claimExpiresAt }),
    events: item.events ?? [],
  };
}
