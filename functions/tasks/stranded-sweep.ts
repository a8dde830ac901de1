/**
 * The stranded-run sweep in AWS: an EventBridge schedule invokes this function every minute. It
 * records as failed (INTERRUPTED, with its event) a page of tenants whose status says a workflow
 * holds them while Step Functions has no live execution of their run, once they have been quiet
 * for STRANDED_AFTER_SECONDS (`functions/domain/stranded-sweep.ts`). It runs whether drift checks
 * are scheduled or not, and enrols tenants that were in flight before the sweep's index entries
 * existed, a page per invocation.
 *
 * Environment: TABLE_NAME, STATE_MACHINE_ARN, OFFBOARDING_STATE_MACHINE_ARN, STRANDED_AFTER_SECONDS.
 */
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoInFlightDue, enrolEarlierInFlight } from "../adapters/dynamodb/in-flight-due.ts";
import type { TableContext } from "../adapters/dynamodb/query.ts";
import { StepFunctionsEngine } from "../adapters/workflow/sfn-engine.ts";
import { requireEnv, tenantStore } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger, tracer } from "../commons/observability.ts";
import { inFlightPages, strandedAfterMsOf, sweepStranded } from "../domain/stranded-sweep.ts";

let ctx: TableContext | undefined;
let due: DynamoInFlightDue | undefined;
let engine: StepFunctionsEngine | undefined;

export const handler = instrument(async () => {
  ctx ??= {
    client: createDocumentClient({ client: tracer.captureAWSv3Client(createDynamoClient()) }),
    table: requireEnv("TABLE_NAME"),
  };
  due ??= new DynamoInFlightDue(ctx);
  engine ??= new StepFunctionsEngine({
    stateMachineArns: {
      onboarding: requireEnv("STATE_MACHINE_ARN"),
      offboarding: requireEnv("OFFBOARDING_STATE_MACHINE_ARN"),
    },
  });
  const result = await sweepStranded({
    store: tenantStore(),
    engine,
    due,
    clock: () => new Date(),
    strandedAfterMs: strandedAfterMsOf(process.env["STRANDED_AFTER_SECONDS"]),
    // DescribeExecution is eventually consistent: a young run's second look, a few seconds later.
    strandedConfirmMs: 3000,
    onError: (err, tenantId) =>
      logger.warn("could not judge a tenant's run", { tenantId, error: String(err) }),
  });
  if (result.recorded.length > 0) {
    logger.warn("stranded runs recorded as interrupted", { tenants: result.recorded });
  }
  // After the sweep (a slow listing never holds it up): tenants in flight before this version
  // get their entries, a page per minute, until all have.
  await enrolEarlierInFlight(ctx, inFlightPages(tenantStore())).catch((err: unknown) =>
    logger.warn("could not enrol in-flight tenants in the sweep", { error: String(err) }),
  );
  return { looked: result.looked, recorded: result.recorded.length };
});
