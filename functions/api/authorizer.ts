/**
 * Lambda authorizer (TOKEN or REQUEST) of the REST API. It resolves the API key with the same
 * `authorize` that the local runtime runs in process, and hands the principal to the API
 * function in `requestContext.authorizer` (`role`, `partnerId`).
 *
 * API Gateway caches the answer per key, so the policy allows the whole stage: a cached Allow
 * must not turn into a Deny on the caller's next route. Roles are enforced by the API itself.
 */
import type {
  APIGatewayAuthorizerResult,
  APIGatewayRequestAuthorizerEvent,
  APIGatewayTokenAuthorizerEvent,
} from "aws-lambda";
import { type Authorize, createAuthorizer, toAuthorizerContext } from "./auth.ts";
import { tableDependencies } from "./dependencies.ts";

export { type Authorize, createAuthorizer } from "./auth.ts";

let authorize: Promise<Authorize> | undefined;

function loadAuthorize(): Promise<Authorize> {
  authorize ??= tableDependencies().then(({ store, opsKeyHash }) => createAuthorizer({ store, opsKeyHash }));
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

export async function handler(
  event: APIGatewayTokenAuthorizerEvent | APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> {
  const headers =
    event.type === "TOKEN" ? { authorization: event.authorizationToken } : (event.headers ?? undefined);
  const principal = await (await loadAuthorize())(headers);
  // API Gateway answers 401 (its UNAUTHORIZED gateway response) for exactly this message.
  if (!principal) throw new Error("Unauthorized");
  return {
    principalId: principal.partnerId ?? "ops",
    policyDocument: {
      Version: "2012-10-17",
      Statement: [
        { Action: "execute-api:Invoke", Effect: "Allow", Resource: stageWildcard(event.methodArn) },
      ],
    },
    context: toAuthorizerContext(principal),
  };
}
