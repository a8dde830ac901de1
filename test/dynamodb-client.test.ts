/**
 * The DynamoDB client of the embedded engine (`embedded: true`, the local runtime's): requests
 * carry a fixed Authorization header instead of a SigV4 signature, and dynalite serves them.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, inject, it } from "vitest";
import { createDocumentClient, createDynamoClient } from "../functions/adapters/dynamodb/client.ts";
import { EmbeddedHttpHandler } from "../functions/adapters/dynamodb/embedded-http.ts";
import { ensureTable } from "../functions/adapters/dynamodb/table.ts";

describe("createDynamoClient({ embedded: true })", () => {
  it("is served by dynalite without computing a signature", async () => {
    const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint"), embedded: true });
    const sent: Record<string, string>[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        sent.push({ ...(args.request as { headers: Record<string, string> }).headers });
        return next(args);
      },
      { step: "deserialize" },
    );
    // Others place middleware relative to the user agent's (Powertools does): it is still named.
    client.middlewareStack.addRelativeTo(((next: unknown) => next) as never, {
      relation: "after",
      toMiddleware: "getUserAgentMiddleware",
      name: "relativeToUserAgent",
    });
    const tableName = `test-embedded-${Date.now()}`;
    await ensureTable(client, tableName);
    const doc = createDocumentClient({ client });
    await doc.send(new PutCommand({ TableName: tableName, Item: { pk: "a", sk: "b", n: 1 } }));
    const { Item } = await doc.send(new GetCommand({ TableName: tableName, Key: { pk: "a", sk: "b" } }));
    expect(Item).toMatchObject({ n: 1 });
    // Errors come back parsed as the SDK's (the store relies on condition failures).
    await expect(
      doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { pk: "a", sk: "b" },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    for (const headers of sent) {
      expect(headers["authorization"]).toMatch(
        /^AWS4-HMAC-SHA256 Credential=local\/\d{8}\/[a-z0-9-]+\/dynamodb\/aws4_request, SignedHeaders=host;x-amz-date, Signature=embedded$/,
      );
      expect(headers["x-amz-date"]).toMatch(/^\d{8}T\d{6}Z$/);
      expect(headers["x-amz-user-agent"]).toBeUndefined();
    }
  });

  it("signs as usual without it, and refuses an endpoint that is not loopback", async () => {
    const client = createDynamoClient({ endpoint: inject("dynamodbEndpoint") });
    const sent: string[] = [];
    const agents: string[] = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        const { headers } = args.request as { headers: Record<string, string> };
        sent.push(headers["authorization"] ?? "");
        agents.push(headers["x-amz-user-agent"] ?? "");
        return next(args);
      },
      { step: "deserialize" },
    );
    await ensureTable(client, `test-signed-${Date.now()}`);
    expect(sent[0]).toMatch(/Signature=[0-9a-f]{64}$/);
    expect(agents[0]).toMatch(/aws-sdk-js/);
    expect(() =>
      createDynamoClient({ endpoint: "https://dynamodb.us-east-1.amazonaws.com", embedded: true }),
    ).toThrow(TypeError);
    expect(() => createDynamoClient({ embedded: true })).toThrow(TypeError);
  });

  it("its HTTP handler fails a request that is not answered in time, or aborted", async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as AddressInfo;
    const handler = new EmbeddedHttpHandler({ timeoutMs: 100 });
    const request = { method: "POST", hostname: "127.0.0.1", port, path: "/", headers: {}, body: "{}" };
    try {
      await expect(handler.handle(request)).rejects.toMatchObject({ name: "TimeoutError" });
      const abort = new AbortController();
      const pending = handler.handle(request, { abortSignal: abort.signal });
      abort.abort();
      await expect(pending).rejects.toMatchObject({ name: "AbortError" });
    } finally {
      handler.destroy();
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });
});
