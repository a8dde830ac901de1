/** The answers API Gateway gives itself (before or instead of the API function), as problem+json. */
import { ResponseType, type RestApi } from "aws-cdk-lib/aws-apigateway";

/** Problem+json bodies for the answers API Gateway gives itself (before or instead of the API function). */
const GATEWAY_PROBLEMS: readonly {
  type: ResponseType;
  title: string;
  status?: number;
  retryAfter?: number;
}[] = [
  { type: ResponseType.UNAUTHORIZED, title: "Unauthorized", status: 401 },
  { type: ResponseType.ACCESS_DENIED, title: "Forbidden", status: 403 },
  { type: ResponseType.THROTTLED, title: "Too Many Requests", status: 429, retryAfter: 1 },
  { type: ResponseType.REQUEST_TOO_LARGE, title: "Content Too Large", status: 413 },
  { type: ResponseType.DEFAULT_4XX, title: "Bad Request" },
  { type: ResponseType.DEFAULT_5XX, title: "Internal Server Error" },
];

/** Adds one gateway response per entry of `GATEWAY_PROBLEMS`. */
export function addGatewayProblems(api: RestApi): void {
  for (const problem of GATEWAY_PROBLEMS) {
    const status = problem.status === undefined ? "" : `,"status":${problem.status}`;
    api.addGatewayResponse(`Problem${problem.type.responseType}`, {
      type: problem.type,
      ...(problem.status === undefined ? {} : { statusCode: String(problem.status) }),
      responseHeaders: {
        "Content-Type": "'application/problem+json'",
        ...(problem.retryAfter !== undefined && { "Retry-After": `'${problem.retryAfter}'` }),
      },
      templates: {
        "application/json": `{"type":"about:blank","title":"${problem.title}"${status},"detail":$context.error.messageString}`,
      },
    });
  }
}
