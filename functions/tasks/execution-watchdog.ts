// Lambda: EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED).
import { tenantStore } from "../commons/aws-deps.ts";
import { instrument } from "../commons/instrument.ts";
import { logger } from "../commons/observability.ts";
import { endedExecutionOf, recordEndedExecution } from "./execution-ended.ts";

export const handler = instrument(
  async (event: { detail?: { name?: string; status?: string; input?: string } }) => {
    const ended = endedExecutionOf(event.detail ?? {});
    if (!ended) {
      logger.warn("execution event without a tenant run; ignored", { execution: event.detail?.name });
      return;
    }
    logger.appendKeys({ tenantId: ended.tenantId, run: ended.run });
    const changed = await recordEndedExecution(tenantStore(), ended, new Date().toISOString());
    if (changed)
      logger.warn("execution ended without an outcome; tenant marked failed", { status: ended.status });
  },
);
