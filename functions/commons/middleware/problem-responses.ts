/**
 * Middy error handler that answers with RFC 9457 problem details (`application/problem+json`).
 * Errors the mapper knows are shown as mapped (their texts are written for callers); anything
 * else becomes a plain 500 with no detail, and is logged in full internally.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyResult, Context } from "aws-lambda";
import { errorTypeUri } from "../../domain/error-catalogue.ts";
import { basePathOf, underBasePath } from "./base-path.ts";

export interface MappedProblem {
  status: number;
  /** The problem object (type, title, status, detail, errors...). */
  problem: object;
  headers?: Record<string, string>;
}

export interface ProblemResponsesOptions {
  /** Maps a known error to its problem; undefined for unexpected errors. */
  map: (error: unknown) => MappedProblem | undefined;
  /** Where unexpected errors are logged. */
  logger: (context: Context) => Logger;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

export function problemResponses<TEvent>(
  options: ProblemResponsesOptions,
): MiddlewareObj<TEvent, APIGatewayProxyResult, Error, Context> {
  return {
    name: "problemResponses",
    onError: (request) => {
      if (request.response !== undefined) return;
      // The problem's `type` resolves under the stage's (or custom domain's) base path.
      const base = basePathOf(request.event as never);
      const mapped = options.map(request.error);
      if (mapped) {
        const problem = mapped.problem as { type?: unknown };
        request.response = {
          statusCode: mapped.status,
          headers: { ...mapped.headers, "content-type": PROBLEM_CONTENT_TYPE },
          body: JSON.stringify(
            typeof problem.type === "string"
              ? { ...problem, type: underBasePath(problem.type, base) }
              : problem,
          ),
        };
        return;
      }
      options.logger(request.context).error("Unhandled error", request.error as Error);
      request.response = {
        statusCode: 500,
        headers: { "content-type": PROBLEM_CONTENT_TYPE },
        body: JSON.stringify({
          type: underBasePath(errorTypeUri("INTERNAL_ERROR"), base),
          code: "INTERNAL_ERROR",
          title: "Internal Server Error",
          status: 500,
        }),
      };
    },
  };
}
