/**
 * What partners meet on AWS at the API's edge: problem `type` links that resolve under the
 * stage's base path (an API Gateway REST proxy event), usage plan key values API Gateway
 * accepts whatever the stack is called, and a partner that gets its key even when API Gateway
 * fails to create its usage plan key. API Gateway's key API is a small in-test stand-in (no
 * local API Gateway): it applies the documented value rule (20-128 alphanumeric characters).
 */
import {
  APIGatewayClient,
  BadRequestException,
  ConflictException,
  TooManyRequestsException,
} from "@aws-sdk/client-api-gateway";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { createAuthorizer, usageIdentifier } from "../functions/api/auth.ts";
import { API_KEY_VALUE, usageKeyValue } from "../functions/api/usage-key.ts";
import { UsagePlanPartnerLimits } from "../functions/api/usage-plans.ts";
import { hashApiKey } from "../functions/domain/api-keys.ts";
import { PartnerService } from "../functions/domain/partners.ts";
import { JournalOnboardingStack } from "../infra/aws/stack.ts";
import { apiEvent, startTestApi, type TestApi } from "./support/api.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

describe("problem type links on AWS", () => {
  let t: TestApi;
  beforeAll(async () => {
    t = await startTestApi();
  });

  /** The event API Gateway sends for a request to `/prod<path>` (stage prod). */
  const stageEvent = (method: string, path: string, key?: string) => {
    const event = apiEvent(method, path, key === undefined ? {} : { key });
    event.requestContext = { ...event.requestContext, path: `/prod${path}`, stage: "prod" };
    return event;
  };

  it("resolve under the stage's base path: /prod/v1/errors#CODE", async () => {
    const unauthorized = await t.invoke(stageEvent("GET", "/v1/tenants"));
    expect(unauthorized.status).toBe(401);
    expect(unauthorized.body.type).toBe("/prod/v1/errors#UNAUTHORIZED");
    const missing = await t.invoke(
      stageEvent("GET", "/v1/tenants/10000000-0000-4000-8000-00000000abcd", t.opsKey),
    );
    expect(missing.status).toBe(404);
    expect(missing.body.type).toBe(`/prod/v1/errors#${missing.body.code}`);
  });

  it("stay /v1/errors#CODE where the API is served at the root (locally)", async () => {
    const res = await t.invoke(apiEvent("GET", "/v1/tenants"));
    expect(res.body.type).toBe("/v1/errors#UNAUTHORIZED");
  });
});

describe("usage plan key values", () => {
  it("are what API Gateway accepts (20-128 alphanumeric) whatever the stack is called", () => {
    const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
    const name = `Journal-Onboarding-Second-Copy-${"x".repeat(30)}`;
    const stack = new JournalOnboardingStack(app, name);
    const resources = Template.fromStack(stack).toJSON().Resources as Record<
      string,
      { Type: string; Properties: Record<string, unknown> }
    >;
    const values = Object.values(resources)
      .filter((r) => r.Type === "AWS::ApiGateway::ApiKey")
      .map((r) => String(r.Properties["Value"]));
    expect(values).toHaveLength(2);
    for (const value of values) expect(value).toMatch(API_KEY_VALUE);
    // The authorizer names the same keys.
    const prefix = stack.api.usageKeyPrefix;
    expect(values.sort()).toEqual(
      [
        usageIdentifier({ role: "ops" }, prefix),
        usageIdentifier({ role: "partner", partnerId: "p_any" }, prefix),
      ].sort(),
    );
    expect(usageKeyValue(`${prefix}p_1`)).not.toBe(usageKeyValue(`${prefix}p_2`));
  });
});

describe("a partner's usage plan key", () => {
  let db: FreshTable;
  beforeAll(async () => {
    db = await freshTable();
  });

  /** API Gateway's key calls: refuses a value outside its rule; `down` answers throttling to every call. */
  function apiGateway() {
    const state = { down: false, keys: new Map<string, string>(), planKeys: new Set<string>(), errors: 0 };
    const client = new APIGatewayClient({
      region: "eu-west-1",
      credentials: { accessKeyId: "x", secretAccessKey: "x" },
    });
    client.middlewareStack.add(
      (_next, context) => async (args) => {
        const input = args.input as Record<string, string>;
        const out = (output: object) => ({ output: { ...output, $metadata: {} }, response: {} }) as never;
        if (state.down) throw new TooManyRequestsException({ message: "Too Many Requests", $metadata: {} });
        switch (context.commandName) {
          case "GetUsagePlansCommand":
            return out({ items: [{ id: "plan1", name: "JournalOnboarding-partners" }] });
          case "CreateApiKeyCommand": {
            if (!API_KEY_VALUE.test(input["value"]!)) {
              throw new BadRequestException({ message: "API key value is invalid", $metadata: {} });
            }
            if (state.keys.has(input["name"]!))
              throw new ConflictException({ message: "exists", $metadata: {} });
            state.keys.set(input["name"]!, `id-${state.keys.size}`);
            return out({ id: state.keys.get(input["name"]!) });
          }
          case "GetApiKeysCommand":
            return out({
              items: [...state.keys]
                .filter(([n]) => n === input["nameQuery"])
                .map(([name, id]) => ({ name, id })),
            });
          case "CreateUsagePlanKeyCommand":
            state.planKeys.add(input["keyId"]!);
            return out({});
          default:
            throw new Error(`unexpected ${context.commandName}`);
        }
      },
      { step: "initialize" },
    );
    return { client, state };
  }

  it("a partner gets its key when API Gateway fails to create its usage plan key, and its next key recovers it", async () => {
    const { client, state } = apiGateway();
    const failures: string[] = [];
    const limits = new UsagePlanPartnerLimits({
      usagePlanName: "JournalOnboarding-partners",
      keyPrefix: "journal-onboarding-JournalOnboarding-",
      client,
      onError: (_err, partnerId) => failures.push(partnerId),
    });
    const partners = new PartnerService({ store: db.store, limits });
    state.down = true;
    const created = await partners.createPartner("Contoso MSP");
    const { partnerId } = created.partner;
    expect(failures).toEqual([partnerId]);
    const authorize = createAuthorizer({ store: db.store, opsKeyHash: hashApiKey("ops-key-not-used") });
    const first = await authorize({ authorization: `Bearer ${created.apiKey}` });
    expect(first).toMatchObject({ role: "partner", partnerId });
    // Until its own usage plan key exists, the partner meets the shared partners' limit.
    expect(usageIdentifier(first!, "journal-onboarding-JournalOnboarding-")).toBe(
      usageKeyValue("journal-onboarding-JournalOnboarding-shared"),
    );

    state.down = false;
    const next = await partners.createKey(partnerId);
    const second = await authorize({ authorization: `Bearer ${next.apiKey}` });
    expect(usageIdentifier(second!, "journal-onboarding-JournalOnboarding-")).toBe(
      usageKeyValue(`journal-onboarding-JournalOnboarding-${partnerId}`),
    );
    expect(state.planKeys.size).toBe(1);
    // A repeated creation (a retried request) finds the key API Gateway already holds.
    expect(await limits.ensurePartner(partnerId)).toBe(true);
    expect(state.keys.size).toBe(1);
  });
});
