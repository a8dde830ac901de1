/**
 * Lambda authorizer (TOKEN or REQUEST) of the REST API. It resolves the API key with the same
 * `authorize` that the local runtime runs in process, and hands the principal to the API
 * function in `requestContext.authorizer` (`role`, `partnerId`).
 *
 * API Gateway caches the answer per key (at most 60 s, so a revoked key stops within that), so
 * the policy allows the whole stage: a cached Allow must not turn into a Deny on the caller's
 * next route. Roles are enforced by the API itself. With `USAGE_KEY_PREFIX` set, the answer
 * names the API Gateway API key (`usageIdentifierKey`) whose usage plan rate-limits the caller.
 */

import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayTokenAuthorizerEvent,
} from "aws-lambda";
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoTenantStore } from "../adapters/dynamodb/tenant-store.ts";
import { instrument } from "../commons/instrument.ts";
import {
  type Authorize,
  createAuthorizer,
  opsKeyHashSource,
  toAuthorizerContext,
  usageIdentifier,
} from "./auth.ts";
import { readSecretString } from "./secrets.ts";

export { type Authorize, createAuthorizer } from "./auth.ts";

let authorize: Promise<Authorize> | undefined;

/** Env: TABLE_NAME, DYNAMODB_ENDPOINT (optional), and the ops key (see `resolveOpsKeyHash`). */
async function buildAuthorize(env: Record<string, string | undefined> = process.env): Promise<Authorize> {
  const tableName = env.TABLE_NAME?.trim();
  if (!tableName) throw new Error("TABLE_NAME is not set");
  const endpoint = env.DYNAMODB_ENDPOINT?.trim();
  const client = createDocumentClient({ client: createDynamoClient(endpoint ? { endpoint } : {}) });
  const store = new DynamoTenantStore({ client, tableName });
  return createAuthorizer({ store, opsKeyHash: await opsKeyHashSource(env, readSecretString) });
}

function loadAuthorize(): Promise<Authorize> {
  authorize ??= buildAuthorize();
  authorize.catch(() => {
    authorize = undefined;
  });
  return authorize;
}

/** `arn:aws:execute-api:region:account:apiId/stage/*` from a method ARN. */
export function stageWildcard(methodArn: string): string {
  const [prefix = "", path = ""] = methodArn.split(/:(?=[^:]*$)/);
  const [apiId, stage] = path.split("/");
  return `${prefix}:${apiId}/${stage}/*`;
}

export const handler = instrument(async function authorize(
  event: APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> {
  const headers =
    event.type === "TOKEN" ? { authorization: event.authorizationToken } : (event.headers ?? undefined);
  const principal = await (await loadAuthorize())(headers);
  // API Gateway answers 401 (its UNAUTHORIZED gateway response) for exactly this message.
  if (!principal) throw new Error("Unauthorized");
  const usagePrefix = process.env.USAGE_KEY_PREFIX;
  return {
    ...(usagePrefix && { usageIdentifierKey: usageIdentifier(principal, usagePrefix) }),
    principalId: principal.partnerId ?? "ops",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [
        { Action: "execute-api:Invoke", Effect: "Allow", Resource: stageWildcard(event.methodArn) },
      ],
    },
    context: toAuthorizerContext(principal),
  };
});
