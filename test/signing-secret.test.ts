/**
 * Cursors and consent links survive an ops key rotation on AWS: two API containers, one started
 * before the rotation and one after (Secrets Manager as the reader they are given; the table is
 * dynalite), sign and read them alike with the stack's own signing secret. The template gives
 * the API function that secret.
 */
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import type { APIGatewayProxyResult } from "aws-lambda";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { createApi } from "../functions/api/app.ts";
import { apiDependencies } from "../functions/api/dependencies.ts";
import { JournalOnboardingStack } from "../infra/aws/stack.ts";
import { apiEvent } from "./support/api.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const OPS_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ops";
const SIGNING_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:signing";
const secrets = new Map<string, string>([
  [OPS_ARN, "jops_before_rotation_0123456789"],
  [SIGNING_ARN, "signing0123456789abcdefghijklmnopqrstuvwxyz"],
]);
const readSecret = async (arn: string) => {
  const value = secrets.get(arn);
  if (value === undefined) throw new Error(`no secret ${arn}`);
  return value;
};

let db: FreshTable;
let env: Record<string, string>;
beforeAll(async () => {
  db = await freshTable();
  env = {
    TABLE_NAME: db.tableName,
    DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
    AWS_REGION: "us-east-1",
    OPS_API_KEY_SECRET_ARN: OPS_ARN,
    SIGNING_SECRET_ARN: SIGNING_ARN,
    STATE_MACHINE_ARN: "arn:aws:states:us-east-1:123456789012:stateMachine:on",
    OFFBOARDING_STATE_MACHINE_ARN: "arn:aws:states:us-east-1:123456789012:stateMachine:off",
    M365_CLIENT_ID: "00000000-1111-2222-3333-444444444444",
  };
});

/** An API container as Lambda starts one: its dependencies read from the environment now. */
async function container() {
  const deps = await apiDependencies(env, readSecret);
  const api = createApi(deps);
  const call = async (path: string, key: string, query?: Record<string, string>) => {
    const raw = (await api(apiEvent("GET", path, { key, ...(query && { query }) }))) as APIGatewayProxyResult;
    return { status: raw.statusCode, body: JSON.parse(raw.body || "{}") };
  };
  const post = async (path: string, key: string, body: unknown) =>
    (await api(apiEvent("POST", path, { key, body }))) as APIGatewayProxyResult;
  return { deps, call, post };
}

describe("after an ops key rotation", () => {
  it("a cursor from a container started before works in one started after", async () => {
    const before = await container();
    const oldKey = secrets.get(OPS_ARN)!;
    for (const name of ["First MSP", "Second MSP"]) {
      expect((await before.post("/v1/partners", oldKey, { name })).statusCode).toBe(201);
    }
    const page = await before.call("/v1/partners", oldKey, { limit: "1" });
    expect(page.body.nextCursor).toEqual(expect.any(String));

    secrets.set(OPS_ARN, "jops_after_rotation_9876543210");
    const after = await container();
    const next = await after.call("/v1/partners", secrets.get(OPS_ARN)!, {
      limit: "1",
      cursor: page.body.nextCursor,
    });
    expect(next.status).toBe(200);
    expect(next.body.items).toHaveLength(1);
    expect(next.body.items[0].partnerId).not.toBe(page.body.items[0].partnerId);
  });

  it("a consent link's state signed before verifies after", async () => {
    secrets.set(OPS_ARN, "jops_before_rotation_0123456789");
    const before = await container();
    const state = before.deps.binding.links!.signer.sign({ partnerId: "p_a", tenantId: "t_1" }, new Date());
    secrets.set(OPS_ARN, "jops_after_rotation_9876543210");
    const after = await container();
    expect(after.deps.binding.links!.signer.verify(state, new Date())).toMatchObject({
      ok: true,
      partnerId: "p_a",
    });
  });
});

describe("the stack", () => {
  it("gives the API function its own generated signing secret", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const stack = new JournalOnboardingStack(app, "JournalOnboarding");
    const resources = Template.fromStack(stack).toJSON().Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown> }
    >;
    const handler = resources[stack.getLogicalId(stack.api.handler.node.defaultChild as never)]!;
    const vars = (handler.Properties["Environment"] as { Variables: Record<string, unknown> }).Variables;
    expect(vars["SIGNING_SECRET_ARN"]).toEqual({
      Ref: stack.getLogicalId(stack.api.signingSecret.node.defaultChild as never),
    });
    expect(vars["SIGNING_SECRET_ARN"]).not.toEqual(vars["OPS_API_KEY_SECRET_ARN"]);
    const secret = resources[stack.getLogicalId(stack.api.signingSecret.node.defaultChild as never)]!;
    expect(secret.Properties["GenerateSecretString"]).toMatchObject({ PasswordLength: 64 });
  });
});
