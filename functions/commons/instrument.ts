/**
 * The cross-cutting part of every Lambda entry, as middy middleware: Powertools logger (with
 * the Lambda context, keys reset per invocation), the X-Ray tracer, and, for functions that
 * emit them, Powertools metrics flushed after each invocation. The handler stays the business
 * call and nothing else.
 */
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import { captureLambdaHandler } from "@aws-lambda-powertools/tracer/middleware";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { logger, metrics, tracer } from "./observability.ts";

export function instrument<E, R>(
  handler: (event: E, context: Context) => Promise<R>,
  options: { metrics?: boolean } = {},
): (event: E, context?: Context) => Promise<R> {
  const wrapped = middy(handler)
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(captureLambdaHandler(tracer, { captureResponse: false }));
  if (options.metrics) wrapped.use(logMetrics(metrics));
  // Tests and the local runtime call entries without a Lambda context.
  return (event, context) => wrapped(event, context ?? ({} as Context));
}
