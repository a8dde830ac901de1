/**
 * "Not yours" costs what "does not exist" costs: the same DynamoDB requests, in the same order,
 * for another partner's tenant (one with large groups in parts and a long delivery history) as
 * for a tenant id nobody registered, with the same read capacity (items and bytes read). Counted
 * at the DynamoDB client, not timed.
 */
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { DynamoClaimStore } from "../functions/adapters/dynamodb/claim-store.ts";
import { DynamoTenantStore } from "../functions/adapters/dynamodb/tenant-store.ts";
import { createConsentLinks } from "../functions/api/consent.ts";
import { createLocalWebhooks } from "../functions/webhooks/index.ts";
import { onboardingBody, startTestApi, type TestApi } from "./support/api.ts";

let t: TestApi;
let a: { partnerId: string; key: string };
let b: { partnerId: string; key: string };
const requests: string[] = [];
let recording = false;

beforeAll(async () => {
  t = await startTestApi({
    extra: (table) => ({
      binding: {
        claims: new DynamoClaimStore({ client: table.docClient, tableName: table.tableName }),
        links: createConsentLinks({
          secret: "test",
          adminConsentUrl: (id) => `https://login.example.test/${id}/adminconsent?client_id=app`,
          redirectUri: "https://api.example.test/v1/consent/callback",
        }),
      },
      webhooks: createLocalWebhooks({
        docClient: table.docClient,
        tableName: table.tableName,
        logger: { warn: () => {}, error: () => {} },
      }).service,
    }),
  });
  // Every request the service sends to DynamoDB, by command and key kind (never the key itself).
  t.docClient.middlewareStack.add(
    (next, context) => async (args) => {
      if (recording) {
        const input = args.input as { Key?: unknown; ExpressionAttributeValues?: unknown };
        const what = JSON.stringify(input.Key ?? input.ExpressionAttributeValues ?? {}).replace(
          /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g,
          "<tenant>",
        );
        // Read capacity stands for the items and bytes read: asked of every read, summed per call.
        if (/^(Get|Query|BatchGet)/.test(context.commandName ?? "")) {
          (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = "TOTAL";
        }
        const result = await next(args);
        const consumed = (result.output as { ConsumedCapacity?: { CapacityUnits?: number } })
          .ConsumedCapacity;
        requests.push(`${context.commandName} ${what} ${consumed?.CapacityUnits ?? "-"}`);
        return result;
      }
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  a = await t.newPartner();
  b = await t.newPartner();
});

async function requestsOf(call: () => Promise<unknown>): Promise<string[]> {
  requests.length = 0;
  recording = true;
  try {
    await call();
  } finally {
    recording = false;
  }
  return [...requests];
}

describe("another partner's tenant and a tenant that does not exist", () => {
  it("cost the same DynamoDB requests on every tenant route and the delivery list", async () => {
    // A's split tenant with 2 x 10,000 members: its groups live in part items.
    const tenantId = randomUUID();
    const members = Array.from({ length: 10_000 }, (_, i) => `member${i}@contoso.example`);
    const posted = await t.call("POST", "/v1/tenants", {
      key: a.key,
      body: onboardingBody(tenantId, {
        customerName: `c-${tenantId.slice(0, 8)}`,
        region: "split",
        groups: {
          eu: { name: "Journal EU", primarySmtpAddress: "eu@contoso.example", members },
          us: { name: "Journal US", primarySmtpAddress: "us@contoso.example", members },
        },
      }),
    });
    expect(posted.status).toBe(202);
    const bound = await t.call("POST", `/v1/tenants/${tenantId}/retry`, {
      key: t.opsKey,
      body: { bindTenant: true, partnerId: a.partnerId },
    });
    expect(bound.status).toBe(202);
    // The owner reads its tenant (the API never reads group members for a tenant resource).
    const own = await requestsOf(() => t.call("GET", `/v1/tenants/${tenantId}`, { key: a.key }));
    expect(own.length).toBeGreaterThan(0);

    const unknown = randomUUID();
    const routes: [string, (id: string) => string, unknown?][] = [
      ["GET", (id) => `/v1/tenants/${id}`],
      ["GET", (id) => `/v1/tenants/${id}/events`],
      ["POST", (id) => `/v1/tenants/${id}/retry`],
      ["PATCH", (id) => `/v1/tenants/${id}`, { ndrAddress: "x@contoso.example" }],
      ["DELETE", (id) => `/v1/tenants/${id}`],
      ["GET", (id) => `/v1/webhook/deliveries?tenantId=${id}`],
      ["GET", (id) => `/v1/tenants/${id}/drift`],
      ["GET", (id) => `/v1/tenants/${id}/changes`],
      ["POST", (id) => `/v1/tenants/${id}/approve`],
      ["POST", (id) => `/v1/tenants/${id}/drift-checks`],
      ["GET", (id) => `/v1/tenants/${id}/permissions-script`],
    ];
    for (const [method, path, body] of routes) {
      // A store of its own per route: nothing of the tenant is cached in the process yet, so any
      // read beyond the tenant item's owner shows up as a request.
      const api = t.withOptions({
        store: new DynamoTenantStore({ client: t.docClient, tableName: t.tableName }),
      });
      const call = (id: string) => () =>
        api(method, path(id), { key: b.key, ...(body !== undefined && { body }) });
      const notYours = await requestsOf(call(tenantId));
      const missing = await requestsOf(call(unknown));
      expect(notYours, `${method} ${path("{id}")}`).toEqual(missing);
      expect(notYours.some((r) => r.includes("GROUPS#") || r.includes("EVENT#"))).toBe(false);
      // The key lookup, the tenant item (stops at its owner), the caller's own claim.
      expect(notYours.length, `${method} ${path("{id}")}`).toBeLessThanOrEqual(3);
    }
  });
});
