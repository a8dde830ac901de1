/**
 * Lambda entry of the REST API (API Gateway REST proxy integration). Dependencies are built
 * once per cold start; a failed build is retried on the next invocation rather than cached.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";
import { instrument } from "../commons/instrument.ts";
import { consoleResponse, isConsolePath } from "../console/assets.ts";
import { type ApiHandler, createApi } from "./app.ts";
import { apiDependencies, requestOrigin } from "./dependencies.ts";

let api: Promise<ApiHandler> | undefined;

function loadApi(): Promise<ApiHandler> {
  api ??= apiDependencies().then((deps) => createApi(deps));
  api.catch(() => {
    api = undefined;
  });
  return api;
}

export const handler = instrument(
  async (event: APIGatewayProxyEvent, context: Context): Promise<APIGatewayProxyResult> => {
    // The console's static files need neither the table nor the ops key secret.
    if (isConsolePath(event.path)) return consoleResponse(event);
    const { domainName, stage } = event.requestContext ?? {};
    if (domainName) requestOrigin.value = `https://${domainName}${stage ? `/${stage}` : ""}`;
    return (await loadApi())(event, context);
  },
);
