/**
 * BatchWriteItem under throttling: DynamoDB processes part of a batch and returns the rest as
 * UnprocessedItems. A fault no local part produces on demand, so a client middleware makes real
 * dynalite process only the first half of each batch and hands back the other half, as DynamoDB
 * does; the store must send them again until none is left, or fail loudly.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { batchDelete, batchPut } from "../functions/adapters/dynamodb/query.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

type Requests = Record<string, unknown[]>;

/** A client whose BatchWriteItems reach dynalite with their first half only (`always`: never more than none). */
function throttledClient(options: { always?: boolean } = {}) {
  const client: DynamoDBClient = createDynamoClient({
    endpoint: inject("dynamodbEndpoint"),
    region: "us-east-1",
  });
  const calls = { batches: 0 };
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== "BatchWriteItemCommand") return next(args);
      calls.batches++;
      const input = args.input as { RequestItems: Requests };
      const [table, requests] = Object.entries(input.RequestItems)[0]!;
      const keep = options.always ? 0 : Math.ceil(requests.length / 2);
      const rest = requests.slice(keep);
      if (keep === 0) {
        return { output: { UnprocessedItems: { [table]: rest }, $metadata: {} }, response: {} } as never;
      }
      const result = (await next({
        ...args,
        input: { RequestItems: { [table]: requests.slice(0, keep) } },
      })) as {
        output: { UnprocessedItems?: Requests };
      };
      if (rest.length) result.output.UnprocessedItems = { [table]: rest };
      return result as never;
    },
    { step: "initialize" },
  );
  return { client, calls };
}

let db: FreshTable;
beforeAll(async () => {
  db = await freshTable();
});

const keysOf = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => ({
    pk: `TENANT#${prefix}`,
    sk: `MEMBER#${String(i).padStart(3, "0")}`,
  }));
const exists = async (key: { pk: string; sk: string }) =>
  (await db.docClient.send(new GetCommand({ TableName: db.tableName, Key: key }))).Item !== undefined;

describe("batch writes under throttling (UnprocessedItems)", () => {
  it("deletes every item: the unprocessed ones are sent again until none is left", async () => {
    const keys = keysOf("del", 40);
    for (const key of keys) await db.docClient.send(new PutCommand({ TableName: db.tableName, Item: key }));
    const { client, calls } = throttledClient();
    await batchDelete({ client: createDocumentClient({ client }), table: db.tableName }, keys);
    expect(calls.batches).toBeGreaterThan(2);
    for (const key of keys) expect(await exists(key), key.sk).toBe(false);
  });

  it("puts every item the same way", async () => {
    const keys = keysOf("put", 30);
    const { client } = throttledClient();
    await batchPut({ client: createDocumentClient({ client }), table: db.tableName }, keys);
    for (const key of keys) expect(await exists(key), key.sk).toBe(true);
  });

  it("fails loudly when DynamoDB keeps every item unprocessed, instead of dropping the deletes", async () => {
    const keys = keysOf("stuck", 3);
    for (const key of keys) await db.docClient.send(new PutCommand({ TableName: db.tableName, Item: key }));
    const { client } = throttledClient({ always: true });
    await expect(
      batchDelete({ client: createDocumentClient({ client }), table: db.tableName }, keys),
    ).rejects.toThrow(/unprocessed/);
    for (const key of keys) expect(await exists(key)).toBe(true);
  }, 30_000);
});
