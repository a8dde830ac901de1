/**
 * The local runtime's outbox (`lazyOutboxTrim`): a running workflow's state change announces
 * its event at once (once), but writes out event items and trims the outbox only once 8
 * entries have gathered, or when the workflow stops making events; readers see no difference.
 */
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import type { TenantChange } from "../functions/domain/store.ts";
import type { TenantEvent } from "../functions/domain/tenant.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const T0 = "2025-01-01T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
let counter = 0;
const newTenantId = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`;

let db: FreshTable;
beforeAll(async () => {
  db = await freshTable();
});

const outboxOf = async (tenantId: string) =>
  ((
    await db.docClient.send(
      new GetCommand({ TableName: db.tableName, Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" } }),
    )
  ).Item?.["outbox"] ?? []) as unknown[];
const eventItems = async (tenantId: string) =>
  (
    await db.docClient.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":e": "EVENT#" },
        ConsistentRead: true,
      }),
    )
  ).Items ?? [];

function lazyStore() {
  const announced: number[] = [];
  const store = new DynamoTenantStore({
    client: db.docClient,
    tableName: db.tableName,
    lazyOutboxTrim: true,
    onEvents: (events: TenantEvent[]) => announced.push(...events.map((e) => e.data.sequence)),
  });
  return { store, announced };
}

const started: TenantChange = {
  status: "running",
  expectStatus: ["queued"],
  event: { type: "tenant.onboarding.started" },
};
const step: TenantChange = {
  steps: { "check-access": { status: "succeeded" } },
  event: { type: "tenant.onboarding.step_succeeded", step: "check-access" },
};
const succeeded: TenantChange = {
  status: "succeeded",
  expectStatus: ["running"],
  event: { type: "tenant.onboarding.succeeded" },
};

async function registered(store: DynamoTenantStore): Promise<string> {
  const tenantId = newTenantId();
  await store.registerTenant(
    "p_lazy",
    {
      tenantId,
      customerName: "contoso",
      region: "us",
      outboundGateway: false,
      ndrAddress: "a@contoso.example",
    },
    T0,
  );
  return tenantId;
}

describe("lazyOutboxTrim", () => {
  it("announces each event once at once, writes out and trims every 8 and when the workflow ends", async () => {
    const { store, announced } = lazyStore();
    const tenantId = await registered(store);
    const ids: string[] = [];
    const record = (r: { event?: TenantEvent }) => ids.push(r.event!.id);
    record(await store.transition(tenantId, started, at(1)));
    for (let n = 2; n <= 4; n++) record(await store.transition(tenantId, step, at(n)));
    expect(announced).toEqual([1, 2, 3, 4]);
    expect(await eventItems(tenantId)).toHaveLength(0);
    expect(await outboxOf(tenantId)).toHaveLength(4);
    expect((await store.listEvents(tenantId)).map((e) => e.id)).toEqual(ids);
    expect((await store.listEvents(tenantId, { afterSequence: 2 })).map((e) => e.data.sequence)).toEqual([
      3, 4,
    ]);

    for (let n = 5; n <= 8; n++) record(await store.transition(tenantId, step, at(n)));
    expect(await outboxOf(tenantId)).toHaveLength(0);
    expect((await eventItems(tenantId)).map((i) => i["id"])).toEqual(ids);
    record(await store.transition(tenantId, step, at(9)));
    expect(await outboxOf(tenantId)).toHaveLength(1);
    expect(await eventItems(tenantId)).toHaveLength(8);
    expect((await store.listEvents(tenantId, { afterSequence: 7 })).map((e) => e.id)).toEqual(ids.slice(7));
    record(await store.transition(tenantId, succeeded, at(10)));
    expect(await outboxOf(tenantId)).toHaveLength(0);
    expect(announced).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect((await eventItems(tenantId)).map((i) => i["id"])).toEqual(ids);
    expect((await store.listEvents(tenantId)).map((e) => e.id)).toEqual(ids);
  });

  it("flushOutbox trims at once without announcing again; another process announces again (at least once)", async () => {
    const { store, announced } = lazyStore();
    const tenantId = await registered(store);
    await store.transition(tenantId, started, at(1));
    await store.transition(tenantId, step, at(2));
    expect(await outboxOf(tenantId)).toHaveLength(2);
    await store.flushOutbox(tenantId);
    expect(await outboxOf(tenantId)).toHaveLength(0);
    expect(await eventItems(tenantId)).toHaveLength(2);
    expect(announced).toEqual([1, 2]);

    // Left in the outbox when the process stopped: the next start writes them out again.
    await store.transition(tenantId, step, at(3));
    expect(await outboxOf(tenantId)).toHaveLength(1);
    const next = lazyStore();
    expect(await next.store.flushAllOutboxes()).toBeGreaterThanOrEqual(1);
    expect(next.announced).toContain(3);
    expect(await outboxOf(tenantId)).toHaveLength(0);
    expect(await eventItems(tenantId)).toHaveLength(3);
    expect((await store.listEvents(tenantId)).map((e) => e.data.sequence)).toEqual([1, 2, 3]);
  });

  it("concurrent state changes of one tenant: every event announced once, all readable", async () => {
    const { store, announced } = lazyStore();
    const tenantId = await registered(store);
    await store.transition(tenantId, started, at(1));
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.transition(tenantId, step, at(2 + i))));
    await store.transition(tenantId, succeeded, at(30));
    expect([...announced].sort((a, b) => a - b)).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
    expect(await outboxOf(tenantId)).toHaveLength(0);
    expect(await eventItems(tenantId)).toHaveLength(22);
    expect((await store.listEvents(tenantId)).map((e) => e.data.sequence)).toEqual(
      Array.from({ length: 22 }, (_, i) => i + 1),
    );
  });
});
