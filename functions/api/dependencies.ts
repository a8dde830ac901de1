/**
 * The API function's real dependencies from the environment, built once per cold start.
 * (The authorizer builds its smaller set itself, to keep its bundle and cold start small.)
 *
 * Environment: `TABLE_NAME`, `DYNAMODB_ENDPOINT` (optional), `STATE_MACHINE_ARN`,
 * `OFFBOARDING_STATE_MACHINE_ARN`, `DRIFT_STATE_MACHINE_ARN` (drift checks), `WEBHOOK_QUEUE_URL`, and the ops key as `OPS_API_KEY_HASH`,
 * `OPS_API_KEY_SECRET_ARN` (re-read every 60 s) or `OPS_API_KEY` (see `resolveOpsKeyHash`);
 * `SIGNING_SECRET_ARN` (signs cursors and consent states; read once per container);
 * `USAGE_PLAN_NAME` and `USAGE_KEY_PREFIX` give each new partner its API Gateway usage plan key;
 * `M365_CLIENT_ID` (the app's client id, public) fills in the permissions script.
 * Consent: `M365_CLIENT_ID`, `M365_CLOUD` / `M365_AUTHORITY_HOST`, `M365_CONSENT_REDIRECT_URI`,
 * and `M365_SECRET_ARN` (the app's credential, read when a customer's admin signs in).
 */
import { createHmac } from "node:crypto";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DynamoChangeLogStore } from "../adapters/dynamodb/change-log-store.ts";
import { DynamoClaimStore } from "../adapters/dynamodb/claim-store.ts";
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoSignInStates } from "../adapters/dynamodb/sign-in-states.ts";
import { DynamoTenantStore } from "../adapters/dynamodb/tenant-store.ts";
import { createAdminSignIn, type SignInCredential } from "../adapters/m365/admin-sign-in.ts";
import { consentUrl } from "../adapters/m365/gateway.ts";
import { StepFunctionsEngine } from "../adapters/workflow/sfn-engine.ts";
import { M365_CLIENT_ID_PLACEHOLDER, resolveM365Endpoints } from "../commons/config.ts";
import { logger } from "../commons/observability.ts";
import { webhookServiceFromEnv } from "../webhooks/index.ts";
import { createAuthorizer, opsKeyHashSource } from "./auth.ts";
import { CONSENT_CALLBACK_PATH, createConsentLinks } from "./consent.ts";
import { TableIdempotencyLayer } from "./idempotency.ts";
import { readSecretString } from "./secrets.ts";
import { usagePlanLimitsFromEnv } from "./usage-plans.ts";

type Env = Record<string, string | undefined>;
type ReadSecret = (arn: string) => Promise<string>;

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function tableDependencies(env: Env, readSecret: ReadSecret) {
  const tableName = required(env, "TABLE_NAME");
  const endpoint = env.DYNAMODB_ENDPOINT?.trim();
  const client = createDynamoClient(endpoint ? { endpoint } : {});
  const docClient = createDocumentClient({ client });
  // The ops key is re-read on a short TTL (a rotated key is in force within 60 s). Cursors and
  // consent states are signed with their own secret, which a rotation of the ops key leaves alone.
  const opsKeyHash = await opsKeyHashSource(env, readSecret);
  const cursorSecret = await signingSecret(env, readSecret, opsKeyHash);
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
 * The key that signs pagination cursors and consent states: the stack's own generated secret
 * (`SIGNING_SECRET_ARN`), read once per container, so that every container signs alike and an
 * ops key rotation breaks no cursor and no consent link. A stack without it (an earlier
 * version) derives the key from the ops key as before.
 */
export async function signingSecret(
  env: Env,
  readSecret: ReadSecret,
  opsKeyHash: () => Promise<string>,
): Promise<string> {
  const arn = env.SIGNING_SECRET_ARN?.trim();
  if (arn) {
    const value = (await readSecret(arn)).trim();
    if (value.length < 32) throw new Error("the signing secret is shorter than 32 characters");
    return value;
  }
  return cursorSecretFrom(await opsKeyHash());
}

/** The signing key of a stack without its own signing secret: derived from the ops key. */
export function cursorSecretFrom(opsKeyHash: string): string {
  return createHmac("sha256", opsKeyHash).update("journal-onboarding pagination cursors").digest("base64url");
}

/**
 * The API's origin as the current request reached it (`https://<domain>/<stage>`), set by the
 * Lambda handler before each request: the consent callback's default URL.
 */
export const requestOrigin = { value: "" };

/**
 * Claims and consent links in AWS. The state's key is the signing secret (the cursors' key,
 * `signingSecret`); the admin consent URL needs
 * only the app's id (`M365_CLIENT_ID`, not a secret) and the cloud's authority host. The
 * admin's sign-in code is redeemed with the app's credential from `M365_SECRET_ARN`, read at
 * the first redemption of a container. Without an app id no consent link can be issued:
 * tenants wait in `awaiting_consent` until ops bind them.
 */
function bindingFromEnv(env: Env, docClient: DynamoDBDocumentClient, cursorSecret: string) {
  const tableName = required(env, "TABLE_NAME");
  const claims = new DynamoClaimStore({ client: docClient, tableName, cursorSecret });
  const clientId = env.M365_CLIENT_ID?.trim();
  if (!clientId) return { claims };
  const resolved = resolveM365Endpoints(env);
  const { authorityHost } = resolved.endpoints;
  const redirect = env.M365_CONSENT_REDIRECT_URI?.trim();
  const secretArn = env.M365_SECRET_ARN?.trim();
  return {
    claims,
    links: createConsentLinks({
      secret: cursorSecret,
      adminConsentUrl: (tenantId) => consentUrl(authorityHost, tenantId, clientId),
      redirectUri: redirect || (() => `${requestOrigin.value}${CONSENT_CALLBACK_PATH}`),
      signIns: new DynamoSignInStates({ client: docClient, tableName }),
      ...(secretArn && {
        signIn: createAdminSignIn({
          clientId,
          authorityHost,
          ...(resolved.explicitAuthorityHost && { disableInstanceDiscovery: true }),
          credential: () => appCredential(secretArn, clientId),
          exchange: { endpoint: resolved.endpoints.exchange },
          onFailure: (failure) => logger.warn("consent sign-in not redeemed", failure),
        }),
      }),
    }),
  };
}

/** The app's secret or certificate from the M365 secret (`{clientId, clientSecret | clientCertificate}`). */
async function appCredential(arn: string, clientId: string): Promise<SignInCredential> {
  const secret = JSON.parse(await readSecretString(arn)) as {
    clientId?: string;
    clientSecret?: string;
    clientCertificate?: string;
  };
  if (!secret.clientId || secret.clientId === M365_CLIENT_ID_PLACEHOLDER || secret.clientId !== clientId) {
    logger.error("The Microsoft 365 app secret is not filled in or names another app than M365_CLIENT_ID.");
    throw new Error("Microsoft 365 app credentials are not configured.");
  }
  if (secret.clientCertificate) return { certificatePem: secret.clientCertificate };
  if (secret.clientSecret) return { clientSecret: secret.clientSecret };
  throw new Error("Microsoft 365 app secret has neither clientSecret nor clientCertificate.");
}

/** Everything `createApi` needs in AWS (`readSecret`: Secrets Manager, read once per container). */
export async function apiDependencies(env: Env = process.env, readSecret: ReadSecret = readSecretString) {
  const { docClient, cursorSecret, ...table } = await tableDependencies(env, readSecret);
  return {
    ...table,
    binding: { ...bindingFromEnv(env, docClient, cursorSecret), changeLog: table.changeLog },
    // Without a delivery queue (a deployment without webhooks) the webhook routes answer 501.
    ...(env.WEBHOOK_QUEUE_URL && { webhooks: webhookServiceFromEnv({ docClient, cursorSecret, env }) }),
    m365AppId: async () => env.M365_CLIENT_ID?.trim() || undefined,
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
