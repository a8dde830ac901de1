/**
 * Retention: the embedded engine has no TTL, so expired items are swept at start and then
 * every TTL_SWEEP_MINUTES, as DynamoDB's TTL deletes them in AWS.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { TableContext } from "../../../functions/adapters/dynamodb/query.ts";
import { sweepExpired } from "../../../functions/adapters/dynamodb/ttl-sweep.ts";
import type { Part } from "./parts.ts";

/** Sweeps once now, then on a timer; `stop` stops the timer. */
export async function startTtlSweep(options: {
  ctx: TableContext;
  env: NodeJS.ProcessEnv;
  logger: Logger;
}): Promise<Part> {
  const { ctx, env, logger } = options;
  const sweep = async () => {
    try {
      const deleted = await sweepExpired(ctx);
      if (deleted > 0) logger.info("swept expired items", { deleted });
    } catch (err) {
      logger.warn("sweeping expired items failed; trying again later", { error: String(err) });
    }
  };
  await sweep();
  const sweepMinutes = Number(env["TTL_SWEEP_MINUTES"] ?? 60);
  if (!(sweepMinutes > 0))
    throw new Error(`TTL_SWEEP_MINUTES must be a positive number; got "${env["TTL_SWEEP_MINUTES"]}"`);
  const sweeper = setInterval(sweep, sweepMinutes * 60_000);
  sweeper.unref();
  return { stop: async () => clearInterval(sweeper) };
}
