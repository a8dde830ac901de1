/**
 * The first half of a graceful stop: the API stops accepting requests (those in progress
 * finish), running workflows get `graceMs` to finish; any still running then is stopped
 * between steps (the step in progress is let finish, for up to `stepGraceMs` more) and marked
 * INTERRUPTED at the next start. The parts are stopped after it.
 */
import type { Logger } from "@aws-lambda-powertools/logger";
import type { LocalWorkflowEngine } from "../../../functions/adapters/workflow/local-engine.ts";
import type { LocalHttpServer } from "../http-server.ts";

export async function drainWorkflows(options: {
  http: LocalHttpServer;
  engine: LocalWorkflowEngine;
  tasksInFlight: ReadonlySet<Promise<unknown>>;
  logger: Logger;
  graceMs: number;
  stepGraceMs: number;
}): Promise<void> {
  const { engine, logger, graceMs } = options;
  // No new requests (hence no new workflows); requests in progress get a moment.
  await options.http.close(Math.min(graceMs, 5_000));
  const running = engine.executions().filter((e) => e.status === "RUNNING").length;
  if (running > 0) logger.info("waiting for running workflows", { running, graceMs });
  const idle = await Promise.race([
    engine.idle().then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), graceMs).unref()),
  ]);
  if (idle) return;
  // Stop the executions between steps; the steps in progress finish and record their result.
  const stopped = engine.close();
  await Promise.race([
    Promise.allSettled([...options.tasksInFlight]),
    new Promise((r) => setTimeout(r, options.stepGraceMs).unref()),
  ]);
  await stopped;
  logger.warn("stopped workflows still running; a retry finishes them", {
    tenants: engine
      .executions()
      .filter((e) => e.status === "ABORTED")
      .map((e) => e.input.tenantId),
  });
}
