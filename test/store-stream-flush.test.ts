/**
 * A store that leaves its outbox to a stream consumer (`flushAfterWrite: false`, the AWS task
 * function's: the stack's stream forwarder writes out every outbox a state change leaves): a
 * state change is one request, its event is readable at once (from the outbox), and
 * `flushOutbox` (the forwarder's call) writes it out as an event item and trims the outbox.
 */
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const T0 = "2025-01-01T00:00:00.000Z";
const tenantId = "00000000-0000-4000-8000-00000000f1a5";

let table: FreshTable;
beforeAll(async () => {
  table = await freshTable();
});

describe("flushAfterWrite: false", () => {
  it("changes state in one request, serves the event from the outbox, and flushOutbox writes it out", async () => {
    const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint"), region: "us-east-1" });
    const commands: string[] = [];
    client.middlewareStack.add(
      (next, context) => async (args) => {
        commands.push(context.commandName ?? "?");
        return next(args);
      },
      { step: "initialize" },
    );
    const doc = createDocumentClient({ client });
    const store = new DynamoTenantStore({ client: doc, tableName: table.tableName, flushAfterWrite: false });
    const { internals } = await store.registerTenant(
      "p_stream",
      {
        tenantId,
        customerName: "contoso",
        region: "us",
        outboundGateway: false,
        ndrAddress: "admin@contoso.example",
      },
      T0,
    );
    commands.length = 0;
    const { event } = await store.transition(
      tenantId,
      {
        expectStatus: ["queued"],
        status: "running",
        expectRun: internals.run,
        event: { type: "tenant.onboarding.started" },
      },
      T0,
    );
    expect(commands).toEqual(["UpdateItemCommand"]);
    expect(event?.type).toBe("tenant.onboarding.started");
    const events = await store.listEvents(tenantId);
    expect(events.map((e) => e.type)).toContain("tenant.onboarding.started");

    const items = async () =>
      (
        await doc.send(
          new QueryCommand({
            TableName: table.tableName,
            KeyConditionExpression: "pk = :pk AND begins_with(sk, :event)",
            ExpressionAttributeValues: { ":pk": `TENANT#${tenantId}`, ":event": "EVENT#" },
          }),
        )
      ).Items ?? [];
    const before = (await items()).length;
    await store.flushOutbox(tenantId);
    expect((await items()).length).toBeGreaterThan(before);
    expect((await store.listEvents(tenantId)).map((e) => e.id)).toEqual(events.map((e) => e.id));
  });
});
