import { createHash } from "node:crypto";
import { GetCommand, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { ConflictError, InvalidCursorError } from "../functions/domain/errors.ts";
import type { OnboardingRequest, TenantEvent } from "../functions/domain/tenant.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const T0 = "2025-01-01T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();
let counter = 0;
const newTenantId = () => `00000000-0000-4000-8000-${String(++counter).padStart(12, "0")}`;

function request(tenantId: string, overrides: Partial<OnboardingRequest> = {}): OnboardingRequest {
  return {
    tenantId,
    customerName: "contoso",
    region: "us",
    outboundGateway: false,
    ndrAddress: "admin@contoso.example",
    ...overrides,
  };
}

/** A store whose process "dies" at the flush: every BatchWriteItem fails (a fault no real part produces on demand). */
function storeDyingAtFlush(tableName: string, onFlushError: (err: unknown) => void = () => {}) {
  const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint") });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === "BatchWriteItemCommand") throw new Error("process died");
      return next(args);
    },
    { step: "initialize" },
  );
  return new DynamoTenantStore({ client: createDocumentClient({ client }), tableName, onFlushError });
}

/** A store whose first UpdateItem reaches DynamoDB but loses its response, so the SDK retries it. */
function storeLosingFirstUpdateResponse(tableName: string) {
  const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint") });
  let lost = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === "UpdateItemCommand" && !lost) {
        lost = true;
        throw Object.assign(new Error("connection reset after the write"), {
          name: "TimeoutError",
          $metadata: {},
        });
      }
      return result;
    },
    { step: "deserialize", priority: "low" },
  );
  return {
    store: new DynamoTenantStore({ client: createDocumentClient({ client }), tableName }),
    lostOne: () => lost,
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
  ).Item;
const eventItems = async (tenantId: string) =>
  (
    await db.docClient.send(
      new QueryCommand({
        TableName: db.tableName,
        KeyConditionExpression: "pk = :pk AND begins_with(sk, :e)",
        ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":e": "EVENT#" },
      }),
    )
  ).Items ?? [];

describe("registration", () => {
  it("registers a tenant queued, with its initial steps and run 1", async () => {
    const tenantId = newTenantId();
    const stored = await db.store.registerTenant("p_a", request(tenantId, { outboundGateway: true }), T0);
    expect(stored.tenant).toMatchObject({
      tenantId,
      partnerId: "p_a",
      status: "queued",
      createdAt: T0,
      updatedAt: T0,
    });
    expect(stored.tenant.steps.map((s) => `${s.name}:${s.status}:${s.attempts}`)).toEqual([
      "check-access:pending:0",
      "connector:pending:0",
      "validate-connector:pending:0",
      "journal-settings:pending:0",
      "groups:skipped:0",
      "journal-rules:pending:0",
    ]);
    expect(stored.internals).toEqual({
      run: 1,
      incarnation: expect.stringMatching(/^[0-9a-f]{10}$/),
      owned: { connectors: [], groups: [], journalRules: [] },
      adopted: { connectors: {}, journalRules: {} },
      objectIds: { journalRules: {}, groups: {} },
    });
    expect(await db.store.getTenant(tenantId)).toEqual(stored);
    expect(await db.store.getTenant(newTenantId())).toBeUndefined();
  });

  it("lets exactly one of 50 concurrent registrations of a tenant win", async () => {
    const tenantId = newTenantId();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => db.store.registerTenant(`p_${i}`, request(tenantId), T0)),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const r of lost) expect(r.reason).toBeInstanceOf(ConflictError);
    const winner = (won[0] as PromiseFulfilledResult<{ tenant: { partnerId: string } }>).value.tenant
      .partnerId;
    expect((await db.store.getTenant(tenantId))?.tenant.partnerId).toBe(winner);
  });

  it("replaces an offboarded registration: fresh steps, run and sequence go on, old events hidden", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_old", request(tenantId), T0);
    await db.store.transition(
      tenantId,
      { newRun: true, status: "running", event: { type: "tenant.onboarding.started" } },
      at(1),
    );
    await db.store.transition(
      tenantId,
      {
        status: "failed",
        steps: { "check-access": { status: "failed", countAttempt: true } },
        error: { code: "X", message: "x" },
        own: { groups: ["g"] },
        previousNdrTo: "old@x.example",
      },
      at(2),
    );
    await expect(db.store.registerTenant("p_new", request(tenantId), at(3))).rejects.toBeInstanceOf(
      ConflictError,
    );
    await db.store.transition(
      tenantId,
      { status: "offboarded", disown: { groups: ["g"] }, event: { type: "tenant.offboarding.succeeded" } },
      at(4),
    );

    const again = await db.store.registerTenant("p_new", request(tenantId, { region: "eu" }), at(5));
    expect(again.tenant).toMatchObject({
      partnerId: "p_new",
      region: "eu",
      status: "queued",
      createdAt: at(5),
    });
    expect(again.tenant.error).toBeUndefined();
    expect(again.tenant.steps.find((s) => s.name === "check-access")).toEqual({
      name: "check-access",
      status: "pending",
      attempts: 0,
    });
    expect(again.internals).toEqual({
      run: 3,
      incarnation: expect.stringMatching(/^[0-9a-f]{10}$/),
      owned: { connectors: [], groups: [], journalRules: [] },
      adopted: { connectors: {}, journalRules: {} },
      objectIds: { journalRules: {}, groups: {} },
    });
    expect(await db.store.listEvents(tenantId)).toEqual([]);

    const { event, stored } = await db.store.transition(
      tenantId,
      { newRun: true, status: "running", event: { type: "tenant.onboarding.started" } },
      at(6),
    );
    expect(stored.internals.run).toBe(4);
    expect(event?.data.sequence).toBe(3);
    expect((await db.store.listEvents(tenantId)).map((e) => e.data.sequence)).toEqual([3]);
  });

  it("stores large distribution groups (2 x 10,000 members) outside the tenant item", async () => {
    const tenantId = newTenantId();
    const members = (tag: string) =>
      Array.from({ length: 10_000 }, (_, i) => `member-${tag}-${i}@customer-domain.example`);
    const groups = {
      eu: { name: "Journal EU", primarySmtpAddress: "journal-eu@contoso.example", members: members("eu") },
      us: { name: "Journal US", primarySmtpAddress: "journal-us@contoso.example", members: members("us") },
    };
    const stored = await db.store.registerTenant("p_big", request(tenantId, { region: "split", groups }), T0);
    expect(stored.tenant.groups).toEqual(groups);
    expect((await db.store.getTenant(tenantId))?.tenant.groups).toEqual(groups);
    // Lists leave groups out (a page of such tenants would read megabytes for nothing).
    const listed = (await db.store.listTenants({ partnerId: "p_big", limit: 10 })).items[0];
    expect(listed?.tenantId).toBe(tenantId);
    expect(listed?.groups).toBeUndefined();
    const { stored: after } = await db.store.transition(tenantId, { status: "running" }, at(1));
    expect(after.tenant.groups).toEqual(groups);
    expect((await rawTenant(tenantId))?.["groups"]).toBeUndefined();
  });

  it("replaces groups by a correction, large or small, and drops the replaced parts", async () => {
    const tenantId = newTenantId();
    const members = (tag: string, n: number) =>
      Array.from({ length: n }, (_, i) => `member-${tag}-${i}@customer-domain.example`);
    const groups = (tag: string, n: number) => ({
      eu: {
        name: `EU ${tag}`,
        primarySmtpAddress: `eu-${tag}@contoso.example`,
        members: members(`eu${tag}`, n),
      },
      us: {
        name: `US ${tag}`,
        primarySmtpAddress: `us-${tag}@contoso.example`,
        members: members(`us${tag}`, n),
      },
    });
    const groupParts = async () =>
      (
        await db.docClient.send(
          new QueryCommand({
            TableName: db.tableName,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :g)",
            ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":g": "GROUPS#" },
          }),
        )
      ).Items ?? [];
    await db.store.registerTenant(
      "p_fix",
      request(tenantId, { region: "split", groups: groups("a", 10_000) }),
      T0,
    );
    const firstParts = (await groupParts()).length;
    expect(firstParts).toBeGreaterThan(0);

    const big = groups("b", 10_000);
    const { stored, event } = await db.store.transition(
      tenantId,
      { correct: { groups: big, ndrAddress: "new@contoso.example" }, event: { type: "tenant.updated" } },
      at(1),
    );
    expect(stored.tenant.groups).toEqual(big);
    expect(stored.tenant.ndrAddress).toBe("new@contoso.example");
    expect(event?.type).toBe("tenant.updated");
    expect((await db.store.getTenant(tenantId))?.tenant.groups).toEqual(big);
    expect((await groupParts()).length).toBe(firstParts); // the old parts are gone

    const small = groups("c", 2);
    await db.store.transition(tenantId, { correct: { groups: small } }, at(2));
    expect((await db.store.getTenant(tenantId))?.tenant.groups).toEqual(small);
    expect((await rawTenant(tenantId))?.["groupsParts"]).toBeUndefined();
    expect(await groupParts()).toEqual([]);
  });
});

describe("transitions and events", () => {
  it("gives 200 concurrent events on one tenant the sequences 1..200 exactly once", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_seq", request(tenantId), T0);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        db.store.transition(
          tenantId,
          {
            event: { type: "tenant.onboarding.step_succeeded", step: "check-access" },
            expectStatus: ["queued"],
          },
          at(i),
        ),
      ),
    );
    const sequences = results.map((r) => r.event!.data.sequence).sort((a, b) => a - b);
    expect(sequences).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.event!.id)).size).toBe(200);

    const events = await db.store.listEvents(tenantId);
    expect(events.map((e) => e.data.sequence)).toEqual(sequences);
    const byId = new Map(results.map((r) => [r.event!.id, r.event!]));
    for (const e of events) expect(e).toEqual(byId.get(e.id));
    expect((await rawTenant(tenantId))?.["outbox"]).toEqual([]);
    expect(await eventItems(tenantId)).toHaveLength(200);
    expect(
      (await db.store.listEvents(tenantId, { afterSequence: 150, limit: 20 })).map((e) => e.data.sequence),
    ).toEqual(Array.from({ length: 20 }, (_, i) => 151 + i));
  });

  it("records the event with the status after the change and its step and error", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_ev", request(tenantId), T0);
    const started = await db.store.transition(
      tenantId,
      { status: "running", newRun: true, event: { type: "tenant.onboarding.started" } },
      at(1),
    );
    expect(started.event).toEqual({
      id: expect.any(String),
      type: "tenant.onboarding.started",
      timestamp: at(1),
      data: { tenantId, status: "running", sequence: 1 },
    });
    // No new status and several allowed ones: the store reads the status and pins it.
    const error = { code: "M365_ACCESS_DENIED", message: "Grant the Exchange Administrator role." };
    const failed = await db.store.transition(
      tenantId,
      {
        expectStatus: ["running", "queued"],
        steps: { "check-access": { status: "failed", error } },
        event: { type: "tenant.onboarding.step_failed", step: "check-access", error },
      },
      at(2),
    );
    expect(failed.event?.data).toEqual({
      tenantId,
      status: "running",
      sequence: 2,
      step: "check-access",
      error,
    });
    const items = await eventItems(tenantId);
    expect(items.map((i) => [i["sk"], i["partnerId"], i["data"].status])).toEqual([
      ["EVENT#0000000001", "p_ev", "running"],
      ["EVENT#0000000002", "p_ev", "running"],
    ]);
  });

  it("applies a change and its event once when the SDK retries a write whose response was lost", async () => {
    const tenantId = newTenantId();
    const registering = storeLosingFirstUpdateResponse(db.tableName);
    const stored = await registering.store.registerTenant("p_retry", request(tenantId), T0);
    expect(registering.lostOne()).toBe(true);
    expect(stored.internals.run).toBe(1);

    const changing = storeLosingFirstUpdateResponse(db.tableName);
    const { event, stored: after } = await changing.store.transition(
      tenantId,
      {
        status: "running",
        newRun: true,
        steps: { "check-access": { countAttempt: true } },
        event: { type: "tenant.onboarding.started" },
      },
      at(1),
    );
    expect(changing.lostOne()).toBe(true);
    expect(event?.data.sequence).toBe(1);
    expect(after.internals.run).toBe(2);
    expect(after.tenant.steps[0]?.attempts).toBe(1);
    expect((await db.store.listEvents(tenantId)).map((e) => e.id)).toEqual([event!.id]);
  });

  it("refuses a change from an unexpected status or on an unknown tenant", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_c", request(tenantId), T0);
    await expect(
      db.store.transition(
        tenantId,
        {
          status: "queued",
          expectStatus: ["failed", "awaiting_consent"],
          event: { type: "tenant.onboarding.started" },
        },
        at(1),
      ),
    ).rejects.toThrow(/is queued; this needs one of: failed, awaiting_consent/);
    expect((await db.store.getTenant(tenantId))?.tenant.updatedAt).toBe(T0);
    expect(await db.store.listEvents(tenantId)).toEqual([]);
    await expect(db.store.transition(newTenantId(), { status: "running" }, at(1))).rejects.toThrow(
      expect.objectContaining({ name: "ConflictError", message: expect.stringMatching(/is not registered/) }),
    );
    expect(await rawTenant(newTenantId())).toBeUndefined();
  });

  it("refuses a change of a run that is not the tenant's current one", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_c", request(tenantId), T0);
    for (const event of [undefined, { type: "tenant.onboarding.started" as const }]) {
      await expect(
        db.store.transition(tenantId, { expectRun: 2, status: "running", ...(event && { event }) }, at(1)),
      ).rejects.toThrow(/run 2 is stale/);
    }
    expect((await db.store.getTenant(tenantId))?.tenant.status).toBe("queued");
    const { stored } = await db.store.transition(tenantId, { expectRun: 1, status: "running" }, at(2));
    expect(stored.tenant.status).toBe("running");
  });

  it("patches, counts and resets steps; sets and clears error and consentUrl", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_s", request(tenantId), T0);
    const error = { code: "CONSENT_REQUIRED", message: "An admin must consent." };
    const { stored } = await db.store.transition(
      tenantId,
      {
        status: "awaiting_consent",
        steps: {
          "check-access": {
            status: "failed",
            countAttempt: true,
            startedAt: at(1),
            finishedAt: at(2),
            error,
          },
        },
        error,
        consentUrl: "https://login.example/consent",
      },
      at(2),
    );
    expect(stored.tenant).toMatchObject({
      status: "awaiting_consent",
      error,
      consentUrl: "https://login.example/consent",
      updatedAt: at(2),
    });
    expect(stored.tenant.steps[0]).toEqual({
      name: "check-access",
      status: "failed",
      attempts: 1,
      startedAt: at(1),
      finishedAt: at(2),
      error,
    });

    const reset = await db.store.transition(
      tenantId,
      {
        status: "queued",
        resetSteps: true,
        error: null,
        consentUrl: null,
        steps: { "journal-settings": { countAttempt: true } },
      },
      at(3),
    );
    expect(reset.stored.tenant.error).toBeUndefined();
    expect(reset.stored.tenant.consentUrl).toBeUndefined();
    expect(reset.stored.tenant.steps.map((s) => ({ ...s }))).toEqual([
      { name: "check-access", status: "pending", attempts: 1 },
      { name: "connector", status: "skipped", attempts: 0 },
      { name: "validate-connector", status: "skipped", attempts: 0 },
      { name: "journal-settings", status: "pending", attempts: 1 },
      { name: "groups", status: "skipped", attempts: 0 },
      { name: "journal-rules", status: "pending", attempts: 0 },
    ]);
  });

  it("remembers the previous NDR address once and tracks owned objects", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_o", request(tenantId), T0);
    const own = await db.store.transition(
      tenantId,
      { previousNdrTo: null, own: { journalRules: ["r1", "r2"], connectors: ["c1"] } },
      at(1),
    );
    expect(own.stored.internals).toEqual({
      run: 1,
      incarnation: expect.stringMatching(/^[0-9a-f]{10}$/),
      previousNdrTo: null,
      owned: { connectors: ["c1"], groups: [], journalRules: ["r1", "r2"] },
      adopted: { connectors: {}, journalRules: {} },
      objectIds: { journalRules: {}, groups: {} },
    });
    const again = await db.store.transition(
      tenantId,
      { previousNdrTo: "someone@x.example", own: { journalRules: ["r2", "r3"] } },
      at(2),
    );
    expect(again.stored.internals.previousNdrTo).toBeNull();
    expect(again.stored.internals.owned.journalRules).toEqual(["r1", "r2", "r3"]);
    const gone = await db.store.transition(
      tenantId,
      { disown: { journalRules: ["r1", "r3"], connectors: ["c1"] } },
      at(3),
    );
    expect(gone.stored.internals.owned).toEqual({
      connectors: [],
      groups: [],
      journalRules: ["r2"],
    });

    const other = newTenantId();
    await db.store.registerTenant("p_o", request(other), T0);
    expect(
      (await db.store.transition(other, { previousNdrTo: "first@x.example" }, at(1))).stored.internals
        .previousNdrTo,
    ).toBe("first@x.example");
    expect(
      (await db.store.transition(other, { previousNdrTo: "second@x.example" }, at(2))).stored.internals
        .previousNdrTo,
    ).toBe("first@x.example");
  });

  it("records an adopted object's previous values once, forgets it on release, also on a tenant stored before adoption existed", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_a", request(tenantId), T0);
    const previous = {
      name: "Rule",
      journalEmailAddress: "old@archive.example",
      scope: "Global" as const,
      recipient: null,
      enabled: false,
    };
    await db.store.transition(tenantId, { adopt: { kind: "journalRules", name: "Rule", previous } }, at(1));
    // A second record (a retried step) keeps the first values: they are the ones before our change.
    const again = await db.store.transition(
      tenantId,
      { adopt: { kind: "journalRules", name: "Rule", previous: { ...previous, enabled: true } } },
      at(2),
    );
    expect(again.stored.internals.adopted.journalRules).toEqual({ Rule: previous });
    const released = await db.store.transition(
      tenantId,
      { release: { kind: "journalRules", name: "Rule" } },
      at(3),
    );
    expect(released.stored.internals.adopted).toEqual({ connectors: {}, journalRules: {} });

    // An item written before `adopted` existed gets the map on its first adoption.
    const legacy = newTenantId();
    await db.store.registerTenant("p_a", request(legacy), T0);
    await db.docClient.send(
      new UpdateCommand({
        TableName: db.tableName,
        Key: { pk: `TENANT#${legacy}`, sk: "TENANT" },
        UpdateExpression: "REMOVE adopted",
      }),
    );
    const connector = {
      name: "C",
      comment: "",
      connectorType: "Partner" as const,
      recipientDomains: ["x.example"],
      smartHosts: ["h.example"],
      useMxRecord: false,
      tlsSettings: null,
      enabled: true,
      isValidated: false,
    };
    const adopted = await db.store.transition(
      legacy,
      { adopt: { kind: "connectors", name: "C", previous: connector } },
      at(1),
    );
    expect(adopted.stored.internals.adopted.connectors).toEqual({ C: connector });
  });

  it("records a journal rule's identity, forgets it with the rule, also on a tenant stored before identities existed", async () => {
    const guid = "0f6e8d52-3c1b-4a7e-9d2f-5b8a1c4e7f30";
    for (const legacy of [false, true]) {
      const tenantId = newTenantId();
      await db.store.registerTenant("p_i", request(tenantId), T0);
      if (legacy) {
        await db.docClient.send(
          new UpdateCommand({
            TableName: db.tableName,
            Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" },
            UpdateExpression: "REMOVE objectIds",
          }),
        );
        // Read as having none: its rules are found by name.
        expect((await db.store.getTenant(tenantId))!.internals.objectIds).toEqual({
          journalRules: {},
          groups: {},
        });
      }
      await db.store.transition(tenantId, { own: { journalRules: ["Rule (EU)", "Rule (US)"] } }, at(1));
      const recorded = await db.store.transition(
        tenantId,
        { recordId: { kind: "journalRules", name: "Rule (EU)", id: guid } },
        at(2),
      );
      expect(recorded.stored.internals.objectIds).toEqual({
        journalRules: { "Rule (EU)": guid },
        groups: {},
      });
      const gone = await db.store.transition(tenantId, { disown: { journalRules: ["Rule (EU)"] } }, at(3));
      expect(gone.stored.internals.objectIds).toEqual({ journalRules: {}, groups: {} });
      expect(gone.stored.internals.owned.journalRules).toEqual(["Rule (US)"]);
    }
  });

  it("records a group's identity and forgets it with the group, also on an item whose identities are the rules' only", async () => {
    const guid = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    for (const legacy of [false, true]) {
      const tenantId = newTenantId();
      await db.store.registerTenant("p_g", request(tenantId), T0);
      if (legacy) {
        // As the version before group identities wrote it.
        await db.docClient.send(
          new UpdateCommand({
            TableName: db.tableName,
            Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" },
            UpdateExpression: "SET objectIds = :ids",
            ExpressionAttributeValues: { ":ids": { journalRules: { R: "r-guid" } } },
          }),
        );
      }
      await db.store.transition(tenantId, { own: { groups: ["Journal EU", "Journal US"] } }, at(1));
      const recorded = await db.store.transition(
        tenantId,
        { recordId: { kind: "groups", name: "Journal EU", id: guid } },
        at(2),
      );
      expect(recorded.stored.internals.objectIds.groups).toEqual({ "Journal EU": guid });
      expect(recorded.stored.internals.objectIds.journalRules).toEqual(legacy ? { R: "r-guid" } : {});
      const gone = await db.store.transition(tenantId, { disown: { groups: ["Journal EU"] } }, at(3));
      expect(gone.stored.internals.objectIds.groups).toEqual({});
      expect(gone.stored.internals.owned.groups).toEqual(["Journal US"]);
    }
  });

  it("shows offboarding's steps once started, and keeps ndrAddressKept and the customization time", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_s", request(tenantId), T0);
    const before = (await db.store.getTenant(tenantId))!.tenant.steps.map((s) => s.name);
    expect(before).not.toContain("remove-journal-rules");
    const started = await db.store.transition(
      tenantId,
      {
        steps: {
          "remove-journal-rules": { fresh: true, status: "pending" },
          "restore-journal-settings": { fresh: true, status: "pending" },
        },
        customizationEnabledAt: at(1),
      },
      at(1),
    );
    expect(started.stored.tenant.steps.slice(-2)).toEqual([
      { name: "remove-journal-rules", status: "pending", attempts: 0 },
      { name: "restore-journal-settings", status: "pending", attempts: 0 },
    ]);
    const done = await db.store.transition(
      tenantId,
      {
        steps: { "restore-journal-settings": { status: "succeeded", countAttempt: true } },
        ndrAddressKept: true,
      },
      at(2),
    );
    expect(done.stored.tenant.ndrAddressKept).toBe(true);
    expect(done.stored.tenant.steps.at(-1)).toMatchObject({ status: "succeeded", attempts: 1 });
    // The customization claim: one writer wins, a second claim is a conflict, null forgets it.
    await expect(db.store.transition(tenantId, { customizationEnabledAt: at(2) }, at(2))).rejects.toThrow(
      ConflictError,
    );
    expect((await db.store.getTenant(tenantId))!.internals.customizationEnabledAt).toBe(at(1));
    // Replaced or forgotten only while the recorded claim is the one the writer saw.
    await expect(
      db.store.transition(tenantId, { customizationEnabledAt: at(3), customizationClaimWas: at(2) }, at(3)),
    ).rejects.toThrow(ConflictError);
    await db.store.transition(
      tenantId,
      { customizationEnabledAt: at(3), customizationClaimWas: at(1) },
      at(3),
    );
    expect((await db.store.getTenant(tenantId))!.internals.customizationEnabledAt).toBe(at(3));
    await db.store.transition(
      tenantId,
      { customizationEnabledAt: null, customizationClaimWas: at(3) },
      at(4),
    );
    expect((await db.store.getTenant(tenantId))!.internals.customizationEnabledAt).toBeUndefined();
    const cleared = await db.store.transition(tenantId, { ndrAddressKept: null }, at(3));
    expect(cleared.stored.tenant.ndrAddressKept).toBeUndefined();
  });

  it("keeps an event that was stored but not flushed (crash) and lets anyone flush it", async () => {
    const tenantId = newTenantId();
    await db.store.registerTenant("p_crash", request(tenantId), T0);
    // A process that dies after its UpdateItem: every write of the flush fails.
    const flushErrors: unknown[] = [];
    const crashing = storeDyingAtFlush(db.tableName, (err) => flushErrors.push(err));
    const { event } = await crashing.transition(
      tenantId,
      { status: "running", event: { type: "tenant.onboarding.started" } },
      at(1),
    );
    expect(flushErrors).toHaveLength(1);
    expect(await eventItems(tenantId)).toHaveLength(0);
    expect((await rawTenant(tenantId))?.["outbox"]).toHaveLength(1);

    const notified: [TenantEvent[], string][] = [];
    const fresh = new DynamoTenantStore({
      client: db.docClient,
      tableName: db.tableName,
      onEvents: (e, p) => notified.push([e, p]),
    });
    expect(await fresh.listEvents(tenantId)).toEqual([event]);
    await fresh.flushOutbox(tenantId);
    expect(notified).toEqual([[[event], "p_crash"]]);
    expect((await rawTenant(tenantId))?.["outbox"]).toEqual([]);
    expect((await eventItems(tenantId)).map((i) => i["id"])).toEqual([event!.id]);
    expect(await fresh.listEvents(tenantId)).toEqual([event]);
    await fresh.flushOutbox(tenantId);
    expect(notified).toHaveLength(1);
  });

  it("finds and flushes every tenant with pending events (start-up after a crash)", async () => {
    const { docClient, tableName, store } = await freshTable();
    const crashing = storeDyingAtFlush(tableName);
    const ids = [newTenantId(), newTenantId(), newTenantId()];
    for (const id of ids) await store.registerTenant("p_sweep", request(id), T0);
    for (const id of ids.slice(0, 2)) {
      await crashing.transition(
        id,
        { status: "running", event: { type: "tenant.onboarding.started" } },
        at(1),
      );
    }
    const notified: string[] = [];
    const restarted = new DynamoTenantStore({
      client: docClient,
      tableName,
      onEvents: (events) => notified.push(...events.map((e) => e.data.tenantId)),
    });
    expect(await restarted.flushAllOutboxes()).toBe(2);
    expect(notified.sort()).toEqual(ids.slice(0, 2).sort());
    expect(await restarted.flushAllOutboxes()).toBe(0);
  });

  it("tells onEvents about new events in sequence order with the partner", async () => {
    const notified: TenantEvent[] = [];
    const partners = new Set<string>();
    const { store } = await freshTable({
      onEvents: (events, partnerId) => {
        notified.push(...events);
        partners.add(partnerId);
      },
    });
    const tenantId = newTenantId();
    await store.registerTenant("p_n", request(tenantId), T0);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        store.transition(
          tenantId,
          {
            event: { type: "tenant.onboarding.step_succeeded", step: "journal-rules" },
            expectStatus: ["queued"],
          },
          at(i),
        ),
      ),
    );
    expect(notified.map((e) => e.data.sequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect([...partners]).toEqual(["p_n"]);
  });
});

describe("listing tenants", () => {
  let table: FreshTable;
  beforeAll(async () => {
    table = await freshTable();
    // p_x: 7 tenants, two of them created at the same instant; p_y: 3.
    const created = [0, 1, 2, 3, 3, 4, 5];
    for (const [i, second] of created.entries()) {
      await table.store.registerTenant("p_x", request(`x-${i}`), at(second));
    }
    for (let i = 0; i < 3; i++) await table.store.registerTenant("p_y", request(`y-${i}`), at(10 + i));
    for (const id of ["x-1", "x-3", "x-6"]) await table.store.transition(id, { status: "failed" }, at(20));
  });

  async function all(query: { partnerId?: string; status?: "failed"; limit: number }) {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = await table.store.listTenants({ ...query, ...(cursor ? { cursor } : {}) });
      pages.push(page.items.map((t) => t.tenantId));
      cursor = page.nextCursor;
    } while (cursor);
    return pages;
  }

  it("pages a partner's tenants newest first, ties by tenantId, without an empty last page", async () => {
    expect(await all({ partnerId: "p_x", limit: 3 })).toEqual([
      ["x-6", "x-5", "x-4"],
      ["x-3", "x-2", "x-1"],
      ["x-0"],
    ]);
    expect(await all({ partnerId: "p_x", limit: 7 })).toEqual([
      ["x-6", "x-5", "x-4", "x-3", "x-2", "x-1", "x-0"],
    ]);
    expect(await all({ partnerId: "p_nobody", limit: 5 })).toEqual([[]]);
  });

  it("lists every partner's tenants for ops", async () => {
    expect((await all({ limit: 4 })).flat()).toEqual([
      "y-2",
      "y-1",
      "y-0",
      "x-6",
      "x-5",
      "x-4",
      "x-3",
      "x-2",
      "x-1",
      "x-0",
    ]);
  });

  it("fills pages when filtering by status", async () => {
    expect(await all({ partnerId: "p_x", status: "failed", limit: 2 })).toEqual([["x-6", "x-3"], ["x-1"]]);
    expect(await all({ status: "failed", limit: 3 })).toEqual([["x-6", "x-3", "x-1"]]);
    expect(await all({ partnerId: "p_y", status: "failed", limit: 2 })).toEqual([[]]);
  });

  it("rejects cursors it did not issue for this list", async () => {
    const { nextCursor } = await table.store.listTenants({ partnerId: "p_x", limit: 2 });
    expect(nextCursor).toMatch(/^[A-Za-z0-9_-]+$/);
    const decoded = JSON.parse(Buffer.from(nextCursor!, "base64url").toString());
    // Its position is sealed: another position (plain, or sealed bytes changed) fails the MAC.
    const forged = Buffer.from(JSON.stringify({ ...decoded, p: "x-1" })).toString("base64url");
    const resealed = Buffer.from(
      JSON.stringify({ ...decoded, p: `${decoded.p.slice(0, -2)}${decoded.p.endsWith("AA") ? "BB" : "AA"}` }),
    ).toString("base64url");
    expect(Buffer.from(nextCursor!, "base64url").toString()).not.toContain("x-5");
    const flipped = nextCursor!.slice(0, -2) + (nextCursor!.at(-2) === "A" ? "B" : "A") + nextCursor!.at(-1);
    for (const cursor of [forged, resealed, flipped, "not a cursor", "", "e30", `${nextCursor}x`]) {
      await expect(table.store.listTenants({ partnerId: "p_x", limit: 2, cursor })).rejects.toBeInstanceOf(
        InvalidCursorError,
      );
    }
    // Valid, but for another list.
    await expect(
      table.store.listTenants({ partnerId: "p_y", limit: 2, cursor: nextCursor! }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    await expect(table.store.listTenants({ limit: 2, cursor: nextCursor! })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
    await expect(
      table.store.listTenants({ partnerId: "p_x", status: "failed", limit: 2, cursor: nextCursor! }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
    // A store with another secret did not issue it either.
    const other = new DynamoTenantStore({
      client: table.docClient,
      tableName: table.tableName,
      cursorSecret: "other",
    });
    await expect(
      other.listTenants({ partnerId: "p_x", limit: 2, cursor: nextCursor! }),
    ).rejects.toBeInstanceOf(InvalidCursorError);
  });

  it("refuses a limit outside 1-100", async () => {
    for (const limit of [0, 101, 1.5])
      await expect(table.store.listTenants({ limit })).rejects.toBeInstanceOf(RangeError);
  });
});

describe("partners and API keys", () => {
  it("creates, reads and pages partners newest first", async () => {
    const { store } = await freshTable();
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await store.createPartner(`Partner ${i}`, at(i)));
    expect(created[0]).toEqual({
      partnerId: expect.stringMatching(/^p_[0-9a-f]{20}$/),
      name: "Partner 0",
      createdAt: at(0),
    });
    expect(new Set(created.map((p) => p.partnerId)).size).toBe(5);
    expect(await store.getPartner(created[2]!.partnerId)).toEqual(created[2]);
    expect(await store.getPartner("p_missing")).toBeUndefined();
    const first = await store.listPartners({ limit: 3 });
    expect(first.items).toEqual([created[4], created[3], created[2]]);
    const second = await store.listPartners({ limit: 3, cursor: first.nextCursor! });
    expect(second).toEqual({ items: [created[1], created[0]] });
    // A tenant-list cursor is not a partner-list cursor.
    await store.registerTenant(created[0]!.partnerId, request("t-1"), T0);
    await store.registerTenant(created[0]!.partnerId, request("t-2"), T0);
    const tenants = await store.listTenants({ limit: 1 });
    await expect(store.listPartners({ limit: 1, cursor: tenants.nextCursor! })).rejects.toBeInstanceOf(
      InvalidCursorError,
    );
  });

  it("stores API keys by hash only", async () => {
    const key = "jk_live_9s8d7f6g5h4j3k2l1";
    const hash = createHash("sha256").update(key).digest("hex");
    await db.store.putApiKey(hash, { role: "partner", partnerId: "p_k" }, T0);
    await db.store.putApiKey(createHash("sha256").update("ops").digest("base64url"), { role: "ops" }, T0);
    expect(await db.store.findApiKey(hash)).toEqual({ role: "partner", partnerId: "p_k" });
    expect(await db.store.findApiKey(createHash("sha256").update("ops").digest("base64url"))).toEqual({
      role: "ops",
    });
    expect(await db.store.findApiKey(createHash("sha256").update("other").digest("hex"))).toBeUndefined();
    await expect(db.store.putApiKey(key, { role: "ops" }, T0)).rejects.toBeInstanceOf(TypeError);
    const stored = await db.docClient.send(
      new GetCommand({ TableName: db.tableName, Key: { pk: `APIKEY#${hash}`, sk: "APIKEY" } }),
    );
    expect(JSON.stringify(stored.Item)).not.toContain(key);
  });
});
