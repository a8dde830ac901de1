/**
 * The product's own authorizer (functions/api/authorizer.ts, in process, its table on dynalite)
 * behind the form's API Gateway on the stack's template: its policy against the method ARN, its
 * `usageIdentifierKey` naming the template's ops usage key, and the template's validation
 * expression, which takes the Bearer scheme in any case (RFC 9110; refusing `bearer <key>` was a
 * defect the form showed).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageKeyValue } from "../../functions/api/usage-key.ts";
import { type ApiGateway, startApiGateway } from "../../infra/aws-local/apigateway/index.ts";
import { readRestApi } from "../../infra/aws-local/apigateway/model.ts";
import type { InvokeResult } from "../../infra/aws-local/contracts.ts";
import { freshTable } from "../support/dynamodb.ts";
import { synthAssembly, tempDataDir } from "./assembly.ts";

const OPS_KEY = "ops-key-for-the-aws-form-authorizer-test";
let gw: ApiGateway;
const seen: Record<string, unknown>[] = [];

beforeAll(async () => {
  const table = await freshTable();
  Object.assign(process.env, {
    TABLE_NAME: table.tableName,
    DYNAMODB_ENDPOINT: (await import("vitest")).inject("dynamodbEndpoint"),
    OPS_API_KEY: OPS_KEY,
    USAGE_KEY_PREFIX: "journal-onboarding-JournalOnboarding-",
    POWERTOOLS_LOG_LEVEL: "ERROR",
  });
  const { handler: authorizer } = await import("../../functions/api/authorizer.ts");
  const assembly = await synthAssembly();
  const api = readRestApi(assembly);
  const authorizerArn = [...api.authorizers.values()][0]?.functionArn;
  const invoke = async (ref: string, event: unknown): Promise<InvokeResult> => {
    const json = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
    if (ref !== authorizerArn) {
      seen.push(json);
      return { ok: true, payload: { statusCode: 200, body: "ok" } };
    }
    try {
      return { ok: true, payload: JSON.parse(JSON.stringify(await authorizer(json as never))) };
    } catch (err) {
      return { ok: false, errorType: (err as Error).name, errorMessage: (err as Error).message };
    }
  };
  gw = await startApiGateway({ assembly, invoke, port: 0, dataDir: tempDataDir() });
});
afterAll(() => gw?.close());

describe("the product's authorizer behind the form's API Gateway", () => {
  it("lets the ops key through under its usage key, with the authorizer's context", async () => {
    for (const base of [gw.url, `${gw.url}/prod`]) {
      const res = await fetch(`${base}/v1/tenants?limit=1`, {
        headers: { Authorization: `Bearer ${OPS_KEY}` },
      });
      expect(res.status).toBe(200);
    }
    expect(seen.at(-1)).toMatchObject({
      requestContext: {
        authorizer: { role: "ops", principalId: "ops" },
        identity: { apiKey: usageKeyValue("journal-onboarding-JournalOnboarding-ops") },
      },
    });
  });

  it("answers 401 for a wrong key (the authorizer's Unauthorized)", async () => {
    const res = await fetch(`${gw.url}/v1/tenants`, { headers: { Authorization: "Bearer not-a-key" } });
    expect(res.status).toBe(401);
  });

  it("takes `bearer <key>` (lower case) as the API does: the template's expression is case-insensitive", async () => {
    const res = await fetch(`${gw.url}/v1/tenants?limit=1`, {
      headers: { Authorization: `bearer ${OPS_KEY}` },
    });
    expect(res.status).toBe(200);
  });
});
