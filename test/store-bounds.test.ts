/**
 * Bounded items: memberships in items of their own (the tenant item does not grow with them),
 * the size guard (a growing change refused with STATE_LIMIT_EXCEEDED, status changes still
 * possible), fencing by step attempt, and tenant reads that never touch members or large groups.
 */
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { itemBytes } from "../functions/adapters/dynamodb/item-size.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { sweepExpired } from "../functions/adapters/dynamodb/ttl-sweep.ts";
import { ConflictError, StateLimitError } from "../functions/domain/errors.ts";
import { membership } from "../functions/domain/steps/groups.ts";
import type { OnboardingRequest } from "../functions/domain/tenant.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const T0 = "2025-01-01T00:00:00.000Z";
let counter = 0;
const newTenantId = () => `00000000-0000-4000-9000-${String(++counter).padStart(12, "0")}`;

const members = (tag: string, n: number) =>
  Array.from({ length: n }, (_, i) => `m-${tag}-${i}@contoso.example`);
function splitRequest(tenantId: string, n: number): OnboardingRequest {
  return {
    tenantId,
    customerName: "contoso",
    region: "split",
    outboundGateway: false,
    ndrAddress: "admin@contoso.example",
    groups: {
      eu: { name: "EU", primarySmtpAddress: "eu@contoso.example", members: members("eu", n) },
      us: { name: "US", primarySmtpAddress: "us@contoso.example", members: members("us", n) },
    },
  };
}

let db: FreshTable;
beforeAll(async () => {
  db = await freshTable();
});

const rawTenant = async (tenantId: string) =>
  (
    await db.docClient.send(
      new GetCommand({ TableName: db.tableName, Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" } }),
    )
  ).Item as Record<string, unknown>;

/** A store on the same table that counts the requests it sends and the items it reads. */
function countingStore(options: { maxItemBytes?: number } = {}) {
  const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint") });
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(context.commandName ?? "");
      return next(args);
    },
    { step: "initialize" },
  );
  const store = new DynamoTenantStore({
    client: createDocumentClient({ client }),
    tableName: db.tableName,
    ...options,
  });
  return { store, sent };
}

describe("memberships this service adds to adopted groups", () => {
  it("are items of their own: the tenant item stays the same size with 5,000 of them, and offboarding pages through them", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_b", splitRequest(tenantId, 2), T0);
    const before = itemBytes(await rawTenant(tenantId));

    // What the old store did (one growing set in the tenant item) wedged near 6,000 members.
    const owned = Array.from({ length: 5_000 }, (_, i) => membership("EU", `guid-${i}`));
    for (let i = 0; i < owned.length; i += 100) {
      await db.store.transition(tenantId, { own: { members: owned.slice(i, i + 100) } }, T0);
    }
    const after = await rawTenant(tenantId);
    expect(after["ownedMembers"]).toBeUndefined();
    // Same size give or take the change bookkeeping (lastChangeId, updatedAt).
    expect(Math.abs(itemBytes(after) - before)).toBeLessThan(64);

    // A GET costs one GetItem of that item, with or without members and groups.
    const { store, sent } = countingStore();
    const got = await store.getTenant(tenantId, { groups: false });
    expect(sent).toEqual(["GetItemCommand"]);
    expect(got?.internals.owned).toEqual({ connectors: [], groups: [], journalRules: [] });

    // Offboarding reads a page, removes, disowns, and reads again until none is left.
    let seen = 0;
    for (let page = await db.store.listOwnedMembers(tenantId, 500); page.length > 0; ) {
      seen += page.length;
      await db.store.transition(tenantId, { disown: { members: page } }, T0);
      page = await db.store.listOwnedMembers(tenantId, 500);
    }
    expect(seen).toBe(5_000);
  });

  it("moves memberships an earlier version kept in the tenant item to items of their own", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_b", splitRequest(tenantId, 2), T0);
    const legacy = [membership("EU", "guid-a"), membership("EU", "guid-b")];
    await db.docClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" },
        UpdateExpression: "ADD ownedMembers :m",
        ExpressionAttributeValues: { ":m": new Set(legacy) },
      }),
    );
    expect((await db.store.listOwnedMembers(tenantId, 10)).sort()).toEqual(legacy.sort());
    expect((await rawTenant(tenantId))["ownedMembers"]).toBeUndefined();
    await db.store.transition(tenantId, { disown: { members: legacy } }, T0);
    expect(await db.store.listOwnedMembers(tenantId, 10)).toEqual([]);
  });
});

describe("the size guard", () => {
  it("refuses a change that would grow the tenant item past the limit, and lets the tenant fail and go on", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_b", splitRequest(tenantId, 2), T0);
    const size = itemBytes(await rawTenant(tenantId));
    // A small limit stands in for 400 KB: the tenant item is a few hundred bytes from it.
    const { store } = countingStore({ maxItemBytes: size + 300 });
    await store.getTenant(tenantId);
    await store.transition(tenantId, { own: { connectors: ["a".repeat(100)] } }, T0);
    const refused = await store
      .transition(tenantId, { own: { connectors: ["b".repeat(400)] } }, T0)
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(StateLimitError);
    expect((refused as StateLimitError).code).toBe("STATE_LIMIT_EXCEEDED");
    expect((await store.getTenant(tenantId))?.internals.owned.connectors).toEqual(["a".repeat(100)]);
    // Not wedged: status and step changes, with their events, still pass.
    const { stored, event } = await store.transition(
      tenantId,
      {
        status: "failed",
        error: { code: "STATE_LIMIT_EXCEEDED", message: (refused as Error).message },
        event: { type: "tenant.onboarding.failed" },
      },
      T0,
    );
    expect(stored.tenant.status).toBe("failed");
    expect(event?.type).toBe("tenant.onboarding.failed");
    // Memberships never count against the tenant item.
    await store.transition(tenantId, { own: { members: [membership("EU", "x".repeat(300))] } }, T0);
  });
});

describe("fencing by step attempt", () => {
  it("refuses the writes of an attempt once its retry has started", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_b", splitRequest(tenantId, 2), T0);
    const first = await db.store.transition(tenantId, { steps: { groups: { countAttempt: true } } }, T0);
    const attempts = first.stored.tenant.steps.find((s) => s.name === "groups")!.attempts;
    const fence = { expectAttempt: { step: "groups" as const, attempts } };
    await db.store.transition(tenantId, { ...fence, own: { members: [membership("EU", "g1")] } }, T0);
    // The retry starts: attempts + 1.
    await db.store.transition(tenantId, { steps: { groups: { countAttempt: true } } }, T0);
    await expect(
      db.store.transition(tenantId, { ...fence, own: { members: [membership("EU", "g2")] } }, T0),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await db.store.listOwnedMembers(tenantId, 10)).toEqual([membership("EU", "g1")]);
  });
});

describe("large groups", () => {
  it("are read in parts only when asked for, and not again from a process that read them", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_b", splitRequest(tenantId, 10_000), T0);
    const { store, sent } = countingStore();
    expect((await store.getTenant(tenantId, { groups: false }))?.tenant.groups).toBeUndefined();
    expect(sent).toEqual(["GetItemCommand"]);
    sent.length = 0;
    expect((await store.getTenant(tenantId))?.tenant.groups?.eu.members).toHaveLength(10_000);
    expect(sent).toEqual(["GetItemCommand", "QueryCommand"]);
    sent.length = 0;
    await store.getTenant(tenantId);
    expect(sent).toEqual(["GetItemCommand"]);
    const parts = await db.docClient.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :g)",
        ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":g": "GROUPS#" },
      }),
    );
    for (const part of parts.Items ?? []) expect(itemBytes(part)).toBeLessThan(400 * 1024);
  });
});

describe("sharded lists", () => {
  it("spread a partner's tenants over its shards and still page through them newest first", async () => {
    const partnerId = `p_shards${Date.now()}`;
    const ids: string[] = [];
    for (let i = 0; i < 40; i++) {
      const tenantId = newTenantId();
      ids.push(tenantId);
      // Some share an instant: ties are ordered by id.
      const createdAt = new Date(Date.parse(T0) + Math.floor(i / 3) * 1000).toISOString();
      await db.store.registerTenant(partnerId, splitRequest(tenantId, 1), createdAt);
      if (i % 4 === 0) await db.store.transition(tenantId, { status: "failed" }, createdAt);
    }
    const partitions = new Set<string>();
    for (const id of ids) partitions.add((await rawTenant(id))["gsi3pk"] as string);
    expect(partitions.size).toBe(4);
    expect([...partitions].every((p) => p.startsWith(`TENANTS#${partnerId}#`))).toBe(true);

    const expected = [...ids].reverse().sort((a, b) => {
      const ia = ids.indexOf(a);
      const ib = ids.indexOf(b);
      const ta = Math.floor(ia / 3);
      const tb = Math.floor(ib / 3);
      return tb - ta || (a < b ? 1 : -1);
    });
    const walk = async (status?: "failed") => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await db.store.listTenants({
          partnerId,
          limit: 7,
          ...(status && { status }),
          ...(cursor && { cursor }),
        });
        expect(page.items.length).toBeLessThanOrEqual(7);
        seen.push(...page.items.map((t) => t.tenantId));
        cursor = page.nextCursor;
      } while (cursor);
      return seen;
    };
    expect(await walk()).toEqual(expected);
    expect(await walk("failed")).toEqual(expected.filter((id) => ids.indexOf(id) % 4 === 0));
    // The ops list holds them too, among other tests' tenants, in the same order.
    const ops: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await db.store.listTenants({ limit: 100, ...(cursor && { cursor }) });
      ops.push(...page.items.map((t) => t.tenantId).filter((id) => ids.includes(id)));
      cursor = page.nextCursor;
    } while (cursor);
    expect(ops).toEqual(expected);
  });
});

describe("retention", () => {
  it("expires events, offboarded tenants and their group parts; a tenant registered again after its record expired continues its sequence", async () => {
    const { docClient, tableName } = db;
    const store = new DynamoTenantStore({
      client: docClient,
      tableName,
      retention: { eventDays: 90, offboardedDays: 30 },
    });
    const tenantId = newTenantId();
    await store.registerTenant("p_old", splitRequest(tenantId, 200), T0);
    await store.transition(tenantId, { status: "running", event: { type: "tenant.onboarding.started" } }, T0);
    const day = 86_400;
    const t0 = Date.parse(T0) / 1000;
    const event = (
      await docClient.send(
        new GetCommand({ TableName: tableName, Key: { pk: `TENANT#${tenantId}`, sk: "EVENT#0000000001" } }),
      )
    ).Item;
    expect(event?.["expiresAt"]).toBe(t0 + 90 * day);

    const off = new Date(Date.parse(T0) + 1000).toISOString();
    await store.transition(
      tenantId,
      { status: "offboarded", event: { type: "tenant.offboarding.succeeded" } },
      off,
    );
    expect((await rawTenant(tenantId))["expiresAt"]).toBe(t0 + 1 + 30 * day);
    const parts = await docClient.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :g)",
        ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":g": "GROUPS#" },
      }),
    );
    expect(parts.Items?.length).toBeGreaterThan(0);
    for (const part of parts.Items ?? []) expect(part["expiresAt"]).toBe(t0 + 1 + 30 * day);

    // 31 days later the sweep (DynamoDB's TTL in AWS) deletes the tenant and its parts, not its events.
    expect(
      await sweepExpired({ client: docClient, table: tableName }, (t0 + 31 * day) * 1000),
    ).toBeGreaterThan(0);
    expect(await rawTenant(tenantId)).toBeUndefined();
    // Registered again (by another partner): its events never reuse the old sequences.
    await store.registerTenant(
      "p_new",
      splitRequest(tenantId, 1),
      new Date((t0 + 32 * day) * 1000).toISOString(),
    );
    expect((await rawTenant(tenantId))["expiresAt"]).toBeUndefined();
    const { event: started } = await store.transition(
      tenantId,
      { status: "running", event: { type: "tenant.onboarding.started" } },
      new Date((t0 + 32 * day) * 1000).toISOString(),
    );
    expect(started?.data.sequence).toBe(3);
    expect((await store.listEvents(tenantId)).map((e) => e.data.sequence)).toEqual([3]);
  });
});
