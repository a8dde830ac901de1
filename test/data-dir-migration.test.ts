// Local form only: the embedded DynamoDB engine's table of an earlier release (AWS: DynamoDB Local, rebuilt by CloudFormation).
/**
 * A DATA_DIR written by an earlier release starts: its table (indexes `gsi1`/`gsi2`, which the
 * embedded engine cannot replace in place) is rebuilt with this version's indexes at start,
 * every item kept, and its lists are served again. The fixture was made by the release of
 * 2026-11-27 (d6e49ac), which would not start here before ("Value null at
 * 'globalSecondaryIndexUpdates.1.member.create.provisionedThroughput'").
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  type DynamoDBClient,
  ListTablesCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { DEFAULT_TABLE_NAME, TABLE_INDEXES } from "../functions/adapters/dynamodb/schema.ts";
import { ensureTable } from "../functions/adapters/dynamodb/table.ts";
import { sideTableName } from "../functions/adapters/dynamodb/table-rebuild.ts";
import { startDynalite } from "../infra/local/dynamodb.ts";
import { startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

interface Fixture {
  table: Omit<CreateTableCommandInput, "TableName">;
  items: Record<string, AttributeValue>[];
}

const fixture = JSON.parse(
  await readFile(new URL("./fixtures/data-dir-2026-11-27.json", import.meta.url), "utf8"),
) as Fixture;
const TENANT = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "data-dir-"));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A DATA_DIR's embedded engine, opened for the test (closed before the runtime opens it). */
async function withEngine<T>(dataDir: string, use: (client: DynamoDBClient) => Promise<T>): Promise<T> {
  const engine = await startDynalite({ path: join(dataDir, "dynamodb") });
  try {
    return await use(createDynamoClient({ endpoint: engine.endpoint, embedded: true }));
  } finally {
    await engine.close();
  }
}

async function putTable(
  client: DynamoDBClient,
  name: string,
  schema: Fixture["table"],
  items: Fixture["items"],
) {
  await client.send(new CreateTableCommand({ ...schema, TableName: name }));
  // The engine makes a table ACTIVE a moment later.
  while ((await client.send(new DescribeTableCommand({ TableName: name }))).Table?.TableStatus !== "ACTIVE") {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  for (let i = 0; i < items.length; i += 25) {
    const batch = items.slice(i, i + 25).map((Item) => ({ PutRequest: { Item } }));
    await client.send(new BatchWriteItemCommand({ RequestItems: { [name]: batch } }));
  }
}

const scanAll = async (client: DynamoDBClient, name: string) =>
  (await client.send(new ScanCommand({ TableName: name }))).Items ?? [];

const indexNames = async (client: DynamoDBClient, name: string) =>
  ((await client.send(new DescribeTableCommand({ TableName: name }))).Table?.GlobalSecondaryIndexes ?? [])
    .map((i) => i.IndexName)
    .sort();

describe("a DATA_DIR of the previous release", () => {
  it("starts: the table is rebuilt with this version's indexes and its tenant is listed and served", async () => {
    const dataDir = await tempDir();
    await withEngine(dataDir, (client) => putTable(client, DEFAULT_TABLE_NAME, fixture.table, fixture.items));
    // That release kept a `jok_` ops key in DATA_DIR.
    const opsKey = `jok_${randomBytes(32).toString("base64url")}`;
    await writeFile(join(dataDir, "ops-api-key"), `${opsKey}\n`);

    const rt: TestRuntime = await startTestRuntime({ dataDir });
    cleanups.push(() => rt.close());
    expect(rt.opsKey).toBe(opsKey);
    const list = await rt.call("GET", "/v1/tenants");
    expect(list.status).toBe(200);
    expect(list.body.items.map((t: { tenantId: string }) => t.tenantId)).toEqual([TENANT]);
    const tenant = await rt.call("GET", `/v1/tenants/${TENANT}`);
    expect(tenant.body).toMatchObject({ status: "succeeded", customerName: "oldus", region: "us" });
    const events = await rt.call("GET", `/v1/tenants/${TENANT}/events`);
    expect(events.body.items).toHaveLength(5);
    const partners = await rt.call("GET", "/v1/partners");
    expect(partners.body.items.map((p: { name: string }) => p.name)).toEqual(["Old partner"]);
    // The migrated table takes this version's writes.
    const partner = await rt.createPartner("New partner");
    const fresh = await rt.onboard(partner.apiKey);
    expect((await rt.waitFor(fresh, ["succeeded", "failed"])).status).toBe("succeeded");
    // That release reserved customerName at claim time: the start reserved the bound tenant's.
    const taken = "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
    const claim = await rt.call("POST", "/v1/tenants", {
      key: partner.apiKey,
      body: { tenantId: taken, customerName: "oldus", region: "us", ndrAddress: "admin@example.com" },
    });
    expect((await rt.consent(claim.body.consentUrl)).status).toBe(400);
    expect((await rt.waitFor(taken, ["failed"])).error?.code).toBe("CUSTOMER_NAME_TAKEN");
  });

  it("a rebuild interrupted at any point is finished at the next start, every item kept", async () => {
    const current = { ...fixture.table };
    // Every index of this version (the lists' and the drift schedule's).
    const wanted = Object.values(TABLE_INDEXES)
      .map((i) => i.name)
      .sort();
    // Interrupted after the old table was dropped (only the side table left), and while the
    // items went back (the new table partly filled, the side table complete).
    for (const stage of ["dropped", "copying back"] as const) {
      const dataDir = await tempDir();
      await withEngine(dataDir, async (client) => {
        await putTable(client, DEFAULT_TABLE_NAME, current, fixture.items);
        await ensureTable(client, DEFAULT_TABLE_NAME); // the schema of this version, as a rebuild makes it
        const schema = await client.send(new DescribeTableCommand({ TableName: DEFAULT_TABLE_NAME }));
        const newSchema = {
          BillingMode: "PAY_PER_REQUEST" as const,
          KeySchema: schema.Table!.KeySchema!,
          AttributeDefinitions: schema.Table!.AttributeDefinitions!,
          GlobalSecondaryIndexes: schema.Table!.GlobalSecondaryIndexes!.map((g) => ({
            IndexName: g.IndexName!,
            KeySchema: g.KeySchema!,
            Projection: g.Projection!,
          })),
        };
        const items = await scanAll(client, DEFAULT_TABLE_NAME);
        await putTable(client, sideTableName(DEFAULT_TABLE_NAME), newSchema, items);
        const { DeleteTableCommand } = await import("@aws-sdk/client-dynamodb");
        await client.send(new DeleteTableCommand({ TableName: DEFAULT_TABLE_NAME }));
        // The engine deletes a table a moment later.
        while ((await client.send(new ListTablesCommand({}))).TableNames?.includes(DEFAULT_TABLE_NAME)) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        if (stage === "copying back")
          await putTable(client, DEFAULT_TABLE_NAME, newSchema, items.slice(0, 3));

        await ensureTable(client, DEFAULT_TABLE_NAME);
        expect(await indexNames(client, DEFAULT_TABLE_NAME)).toEqual(wanted);
        expect(await scanAll(client, DEFAULT_TABLE_NAME)).toHaveLength(fixture.items.length);
        await expect(
          client.send(new DescribeTableCommand({ TableName: sideTableName(DEFAULT_TABLE_NAME) })),
        ).rejects.toThrow(/not found|non-existent/i);
      });
    }
  });
});
