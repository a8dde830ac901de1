/**
 * The path the API is served under, as the caller sees it: API Gateway's stage (`/prod`) or a
 * custom domain's base path mapping, none locally. A REST proxy event carries both the path the
 * caller asked for (`requestContext.path`, e.g. `/prod/v1/tenants`) and the API's own
 * (`path`, `/v1/tenants`): the difference is the base path. Links the API hands out that are
 * absolute paths (a problem's `type`, `/v1/errors#<CODE>`) must carry it to resolve.
 */
import type { APIGatewayProxyEvent } from "aws-lambda";

export function basePathOf(event: Pick<APIGatewayProxyEvent, "path" | "requestContext"> | undefined): string {
  const outer = event?.requestContext?.path;
  const inner = event?.path;
  if (!outer || !inner || outer === inner || !outer.endsWith(inner)) return "";
  const base = outer.slice(0, outer.length - inner.length);
  return /^(\/[A-Za-z0-9._~-]+)+$/.test(base) ? base : "";
}

/** An absolute-path link (`/v1/...`) under the base path; anything else as it is. */
export function underBasePath(link: string, basePath: string): string {
  return basePath && link.startsWith("/") ? `${basePath}${link}` : link;
}
