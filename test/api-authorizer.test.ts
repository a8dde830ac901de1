/**
 * The Lambda entries as AWS runs them: the authorizer (TOKEN and REQUEST events) and the API
 * handler, each building its dependencies from the environment (table on dynalite), and the
 * authorizer's context carried to the API handler the way API Gateway carries it.
 */
import { randomUUID } from "node:crypto";
import type { APIGatewayAuthorizerResult, Context } from "aws-lambda";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { resolveOpsKeyHash } from "../functions/api/auth.ts";
import { hashApiKey } from "../functions/domain/api-keys.ts";
import { PartnerService } from "../functions/domain/partners.ts";
import { apiEvent } from "./support/api.ts";
import { freshTable } from "./support/dynamodb.ts";

const METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/GET/v1/tenants";
const opsKey = `ops-${randomUUID()}`;
let partner: { partnerId: string; key: string };
let authorizer: typeof import("../functions/api/authorizer.ts");
let api: typeof import("../functions/api/handler.ts");

beforeAll(async () => {
  const table = await freshTable();
  Object.assign(process.env, {
    TABLE_NAME: table.tableName,
    DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
    OPS_API_KEY: opsKey,
    STATE_MACHINE_ARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:onboarding",
    OFFBOARDING_STATE_MACHINE_ARN: "arn:aws:states:eu-west-1:123456789012:stateMachine:offboarding",
    AWS_REGION: "eu-west-1",
    POWERTOOLS_LOG_LEVEL: "ERROR",
  });
  const created = await new PartnerService({ store: table.store }).createPartner("Authorizer test");
  partner = { partnerId: created.partner.partnerId, key: created.apiKey };
  authorizer = await import("../functions/api/authorizer.ts");
  api = await import("../functions/api/handler.ts");
});

const token = (authorizationToken: string) => ({
  type: "TOKEN" as const,
  authorizationToken,
  methodArn: METHOD_ARN,
});

describe("Lambda authorizer", () => {
  it("allows a partner key for the whole stage, with role and partnerId in the context", async () => {
    const result = await authorizer.handler(token(`Bearer ${partner.key}`));
    expect(result).toEqual({
      principalId: partner.partnerId,
      policyDocument: {
        Version: "2012-10-17",
        Statement: [
          {
            Action: "execute-api:Invoke",
            Effect: "Allow",
            Resource: "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/prod/*",
          },
        ],
      },
      context: { role: "partner", partnerId: partner.partnerId },
    });
  });

  it("allows the ops key from configuration, as ops", async () => {
    const result = await authorizer.handler(token(`Bearer ${opsKey}`));
    expect(result.context).toEqual({ role: "ops" });
  });

  it("reads REQUEST events' headers in any case", async () => {
    const result = await authorizer.handler({
      type: "REQUEST",
      methodArn: METHOD_ARN,
      headers: { AUTHORIZATION: `Bearer ${partner.key}` },
    } as never);
    expect(result.context).toEqual({ role: "partner", partnerId: partner.partnerId });
  });

  it("answers Unauthorized (API Gateway's 401) for anything else", async () => {
    for (const value of [
      "",
      "Bearer",
      `Bearer ${partner.key}x`,
      `Basic ${partner.key}`,
      `Bearer ${opsKey} extra`,
    ]) {
      await expect(authorizer.handler(token(value)), value).rejects.toThrow(/^Unauthorized$/);
    }
  });

  it("hands the API handler a principal it trusts, as API Gateway does", async () => {
    const allowed = (await authorizer.handler(token(`Bearer ${partner.key}`))) as APIGatewayAuthorizerResult;
    const event = apiEvent("GET", "/v1/tenants", { authorizer: allowed.context as Record<string, string> });
    const res = await api.handler(event, { awsRequestId: randomUUID() } as Context);
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ items: [] });
    const health = await api.handler(apiEvent("GET", "/health"), {} as Context);
    expect(health.statusCode).toBe(200);
    // Without the authorizer context the handler checks the key itself.
    const direct = await api.handler(apiEvent("GET", "/v1/partners", { key: opsKey }), {} as Context);
    expect(direct.statusCode).toBe(200);
  });
});

describe("ops key configuration", () => {
  it("prefers OPS_API_KEY_HASH, then the secret, then OPS_API_KEY, and fails closed", async () => {
    const hash = hashApiKey("k1");
    expect(await resolveOpsKeyHash({ OPS_API_KEY_HASH: hash.toUpperCase(), OPS_API_KEY: "k2" })).toBe(hash);
    const readSecret = async (arn: string) => (arn === "arn:json" ? '{"apiKey":"k3"}' : " k4\n");
    expect(await resolveOpsKeyHash({ OPS_API_KEY_SECRET_ARN: "arn:json" }, readSecret)).toBe(
      hashApiKey("k3"),
    );
    expect(
      await resolveOpsKeyHash({ OPS_API_KEY_SECRET_ARN: "arn:raw", OPS_API_KEY: "k2" }, readSecret),
    ).toBe(hashApiKey("k4"));
    expect(await resolveOpsKeyHash({ OPS_API_KEY: "k2" })).toBe(hashApiKey("k2"));
    await expect(resolveOpsKeyHash({})).rejects.toThrow(/No ops key configured/);
    await expect(resolveOpsKeyHash({ OPS_API_KEY_HASH: "abc" })).rejects.toThrow(/hex SHA-256/);
  });
});
