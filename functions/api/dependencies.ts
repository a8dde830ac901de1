/**
 * The API function's real dependencies from the environment, built once per cold start.
 * (The authorizer builds its smaller set itself, to keep its bundle and cold start small.)
 *
 * Environment: `TABLE_NAME`, `DYNAMODB_ENDPOINT` (optional), `STATE_MACHINE_ARN`,
 * `OFFBOARDING_STATE_MACHINE_ARN`, `DRIFT_STATE_MACHINE_ARN` (drift checks), `WEBHOOK_QUEUE_URL`, and the ops key as `OPS_API_KEY_HASH`,
 * `OPS_API_KEY_SECRET_ARN` (re-read every 60 s) or `OPS_API_KEY` (see `resolveOpsKeyHash`);
 * `USAGE_PLAN_NAME` and `USAGE_KEY_PREFIX` give each new partner its API Gateway usage plan key.
 */
import { createHmac } from "node:crypto";
import { DynamoChangeLogStore } from "../adapters/dynamodb/change-log-store.ts";
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoTenantStore } from "../adapters/dynamodb/tenant-store.ts";
import { StepFunctionsEngine } from "../adapters/workflow/sfn-engine.ts";
import { webhookServiceFromEnv } from "../webhooks/index.ts";
import { createAuthorizer, opsKeyHashSource } from "./auth.ts";
import { TableIdempotencyLayer } from "./idempotency.ts";
import { readSecretString } from "./secrets.ts";
import { usagePlanLimitsFromEnv } from "./usage-plans.ts";

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function tableDependencies(env: Env) {
  const tableName = required(env, "TABLE_NAME");
  const endpoint = env.DYNAMODB_ENDPOINT?.trim();
  const client = createDynamoClient(endpoint ? { endpoint } : {});
  const docClient = createDocumentClient({ client });
  // The ops key is re-read on a short TTL (a rotated key is in force within 60 s); cursors
  // keep the key this container started with.
  const opsKeyHash = await opsKeyHashSource(env, readSecretString);
  const cursorSecret = cursorSecretFrom(await opsKeyHash());
  const store = new DynamoTenantStore({ client: docClient, tableName, cursorSecret });
  const changeLog = new DynamoChangeLogStore({
    client: docClient,
    tableName,
    cursorSecret,
    partnerOf: async (tenantId) => (await store.getTenant(tenantId))?.tenant.partnerId,
  });
  const partnerLimits = usagePlanLimitsFromEnv(env);
  return {
    docClient,
    cursorSecret,
    store,
    changeLog,
    idempotency: new TableIdempotencyLayer({ client, tableName }),
    opsKeyHash,
    authorize: createAuthorizer({ store, opsKeyHash }),
    ...(partnerLimits && { partnerLimits }),
  };
}

/**
 * The key that signs pagination cursors: derived from the ops key (a secret the API already
 * reads), so a cursor cannot be forged without it and no other secret is needed.
 */
export function cursorSecretFrom(opsKeyHash: string): string {
  return createHmac("sha256", opsKeyHash).update("journal-onboarding pagination cursors").digest("base64url");
}

/** Everything `createApi` needs in AWS. */
export async function apiDependencies(env: Env = process.env) {
  const { docClient, cursorSecret, ...table } = await tableDependencies(env);
  return {
    ...table,
    // Without a delivery queue (a deployment without webhooks) the webhook routes answer 501.
    ...(env.WEBHOOK_QUEUE_URL && { webhooks: webhookServiceFromEnv({ docClient, cursorSecret, env }) }),
    ...engines(env),
  };
}

/** The workflow engine; it also starts drift checks when DRIFT_STATE_MACHINE_ARN is set. */
function engines(env: Env) {
  const driftArn = env.DRIFT_STATE_MACHINE_ARN?.trim();
  const engine = new StepFunctionsEngine({
    stateMachineArns: {
      onboarding: required(env, "STATE_MACHINE_ARN"),
      offboarding: required(env, "OFFBOARDING_STATE_MACHINE_ARN"),
    },
    ...(driftArn && { driftStateMachineArn: driftArn }),
  });
  return { engine, ...(driftArn && { driftChecks: engine }) };
}
