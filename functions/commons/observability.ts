/**
 * Powertools logger, metrics and tracer: one instance each per process, shared by every
 * handler. The correlation id is the tenant id (the API and the tasks append it as `tenantId`;
 * webhook deliveries carry it in their records), so one tenant's story is one Logs Insights query.
 *
 * Never log a secret: keys, tokens, client secrets and webhook secrets are not passed to the
 * logger anywhere, and the `Authorization` header is dropped before a request is logged.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { Tracer } from "@aws-lambda-powertools/tracer";

export const SERVICE_NAME = process.env["POWERTOOLS_SERVICE_NAME"] ?? "journal-onboarding";
export const METRICS_NAMESPACE = process.env["POWERTOOLS_METRICS_NAMESPACE"] ?? "JournalOnboarding";

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ serviceName: SERVICE_NAME, namespace: METRICS_NAMESPACE });
// Tracing is on in Lambda (active tracing) and off locally, where there is no X-Ray daemon.
export const tracer = new Tracer({
  serviceName: SERVICE_NAME,
  enabled: process.env["AWS_LAMBDA_FUNCTION_NAME"] !== undefined,
});

/** Metric names: the dashboard and alarms in `infra/aws/` refer to these. */
export const METRIC = {
  onboardingStarted: "OnboardingStarted",
  onboardingSucceeded: "OnboardingSucceeded",
  onboardingFailed: "OnboardingFailed",
  stepDuration: "StepDuration",
  stepSucceeded: "StepSucceeded",
  stepFailed: "StepFailed",
  m365Throttled: "M365Throttled",
  webhookDelivered: "WebhookDelivered",
  webhookFailed: "WebhookFailed",
} as const;

export { MetricUnit };
