/**
 * The onboarding workflow wired for tests: the real store on dynalite, the real Microsoft 365
 * gateway against the HTTPS simulator, the task handlers, and the local engine running the very
 * definition AWS runs (retry intervals scaled down so retries take milliseconds).
 */
import { randomUUID } from "node:crypto";
import type { DynamoTenantStoreOptions } from "../../functions/adapters/dynamodb/tenant-store.ts";
import { createM365Gateway, type M365GatewayOptions } from "../../functions/adapters/m365/gateway.ts";
import { LocalWorkflowEngine } from "../../functions/adapters/workflow/local-engine.ts";
import { OnboardingService } from "../../functions/domain/onboarding.ts";
import type { OnboardingRequest, Tenant } from "../../functions/domain/tenant.ts";
import { createTaskRouter } from "../../functions/tasks/router.ts";
import type { TaskHandler } from "../../functions/tasks/task-context.ts";
import { createTaskHandlers } from "../../functions/tasks/task-handlers.ts";
import {
  demoOnboardingRequest,
  type Simulator,
  startSimulator,
} from "../../infra/local/m365-simulator/index.ts";
import type { TaskName } from "../../workflows/definition.ts";
import { freshTable } from "./dynamodb.ts";

export async function workflowHarness(
  options: {
    retryScale?: number;
    storeOptions?: Omit<DynamoTenantStoreOptions, "client" | "tableName">;
    /** Wraps task handlers (e.g. to change the tenant between two tasks, as its admin might). */
    wrap?: (task: TaskName, handler: TaskHandler) => TaskHandler;
    /** More options of the tasks' gateway (e.g. the tenants' Exchange leases). */
    gateway?: (table: Awaited<ReturnType<typeof freshTable>>) => Partial<M365GatewayOptions>;
  } = {},
) {
  const table = await freshTable(options.storeOptions);
  const sim: Simulator = await startSimulator();
  const m365 = createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
    // Fast in-task backoff: the simulator's Retry-After (1 s) is still honoured.
    retry: { baseDelayMs: 5, maxDelayMs: 2_000 },
    ...options.gateway?.(table),
  });
  const created = createTaskHandlers({ store: table.store, m365 });
  const { wrap } = options;
  const handlers = wrap
    ? (Object.fromEntries(
        Object.entries(created).map(([task, handler]) => [task, wrap(task as TaskName, handler)]),
      ) as typeof created)
    : created;
  const engine = new LocalWorkflowEngine({
    route: createTaskRouter(handlers),
    retryScale: options.retryScale ?? 0.001,
  });
  const { store } = table;

  /** A request for a fresh simulated tenant, valid against its demo mailboxes. */
  const request = (overrides: Partial<OnboardingRequest> = {}): OnboardingRequest => {
    const tenantId = overrides.tenantId ?? randomUUID();
    const { region, outboundGateway } = overrides;
    return {
      ...demoOnboardingRequest(tenantId, {
        ...(region && { region }),
        ...(outboundGateway !== undefined && { outboundGateway }),
      }),
      ...overrides,
    };
  };

  // The API's own use cases drive the engine, as in production.
  const service = new OnboardingService({ store, engine });
  const ops = { role: "ops" } as const;
  const settle = async (tenantId: string): Promise<Tenant> => {
    await engine.idle();
    return (await store.getTenant(tenantId))!.tenant;
  };

  /** Registers and runs onboarding to its end; returns the tenant. */
  const onboard = async (req: OnboardingRequest, partnerId = "p_test"): Promise<Tenant> => {
    await service.register(partnerId, req);
    return settle(req.tenantId);
  };

  /** POST /retry: a new run from failed/awaiting_consent. */
  const retry = async (tenantId: string): Promise<Tenant> => {
    await service.retry(ops, tenantId);
    return settle(tenantId);
  };

  /** DELETE: offboarding. */
  const offboard = async (tenantId: string): Promise<Tenant> => {
    await service.offboard(ops, tenantId);
    return settle(tenantId);
  };

  const writes = (tenantId: string) => sim.calls(tenantId).filter((c) => c.write && c.status < 400);

  /** The whole workflow again on a finished tenant, every succeeded step forced to run. */
  const rerun = async (tenantId: string): Promise<Tenant> => {
    const current = (await store.getTenant(tenantId))!.tenant;
    const steps = Object.fromEntries(
      current.steps
        .filter((s) => s.status === "succeeded")
        .map((s) => [s.name, { status: "pending" as const }]),
    );
    const { stored } = await store.transition(
      tenantId,
      { status: "queued", newRun: true, steps },
      new Date().toISOString(),
    );
    await engine.start("onboarding", { tenantId, run: stored.internals.run });
    return settle(tenantId);
  };

  return {
    store,
    table,
    sim,
    /** The gateway the tasks use: for arranging a tenant as its admin would have. */
    m365,
    engine,
    handlers,
    service,
    request,
    onboard,
    retry,
    offboard,
    rerun,
    writes,
    close: async () => {
      await engine.close();
      await sim.close();
    },
  };
}
export type WorkflowHarness = Awaited<ReturnType<typeof workflowHarness>>;
