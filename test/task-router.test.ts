/**
 * One dispatch path for both forms: every Task state calls the one task function with its task's
 * name as `task` in the payload, and the task router (the deployed task Lambda's, also the local
 * engine's) runs the handler of that name. Real parts: the task handlers over dynalite and the
 * HTTPS simulator, the local engine running the definitions AWS runs.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalWorkflowEngine } from "../functions/adapters/workflow/local-engine.ts";
import { OnboardingService } from "../functions/domain/onboarding.ts";
import { createTaskRouter, type RoutedTaskInput, type TaskRouter } from "../functions/tasks/router.ts";
import {
  driftCheckDefinition,
  offboardingDefinition,
  onboardingDefinition,
  RETIRED_TASKS,
  TASK_FUNCTION,
  taskStates,
  WORKFLOW_TASKS,
} from "../workflows/definition.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Every Task state of the three state machines, rendered as the stack renders them (one function). */
const taskArn = () => `arn:aws:lambda:us-east-1:000000000000:function:${TASK_FUNCTION.name}`;
const definitions = {
  onboarding: onboardingDefinition(taskArn),
  offboarding: offboardingDefinition(taskArn),
  drift: driftCheckDefinition(taskArn),
};
const usedTasks = Object.values(definitions).flatMap((d) => taskStates(d).map((s) => s.parameters.task));

describe("the task router", () => {
  it("holds every task the definitions' Task states name, and the previous release's", () => {
    const route = createTaskRouter(h.handlers);
    expect(new Set(usedTasks)).toEqual(new Set(WORKFLOW_TASKS));
    for (const task of [...usedTasks, ...Object.keys(RETIRED_TASKS)])
      expect([task, route.handles(task)]).toEqual([task, true]);
  });

  it("refuses a task its table does not hold, an Object.prototype name included", async () => {
    const route = createTaskRouter(h.handlers);
    for (const task of ["toString", "Connector2", 7, undefined]) {
      expect(route.handles(task)).toBe(false);
      await expect(route({ task, tenantId: "t", run: 1 } as unknown as RoutedTaskInput)).rejects.toThrow(
        `Unknown workflow task ${JSON.stringify(task)}.`,
      );
    }
  });

  it("the local engine refuses, when built, a table that lost a task the definitions use", () => {
    for (const lost of WORKFLOW_TASKS) {
      const table = Object.fromEntries(Object.entries(h.handlers).filter(([task]) => task !== lost));
      expect(() => new LocalWorkflowEngine({ route: createTaskRouter(table) })).toThrow(
        `No task handler for ${lost}`,
      );
    }
  });
});

describe("the local engine dispatches through the router by the payload's task", () => {
  it("onboarding, the drift check and offboarding: each Task state one call of the router with its task", async () => {
    const route = createTaskRouter(h.handlers);
    const calls: string[] = [];
    const spy: TaskRouter = Object.assign(
      (input: RoutedTaskInput) => {
        calls.push(input.task);
        return route(input);
      },
      { handles: route.handles },
    );
    const engine = new LocalWorkflowEngine({ route: spy, retryScale: 0.001 });
    const service = new OnboardingService({ store: h.store, engine });
    try {
      const req = h.request();
      await service.register("p_router", req);
      await engine.idle();
      const onboarded = (await h.store.getTenant(req.tenantId))!;
      expect(onboarded.tenant.status).toBe("succeeded");
      expect(calls).toEqual(["CheckAccess", "Configure", "Journal"]);

      calls.length = 0;
      await engine.startDriftCheck({ tenantId: req.tenantId, run: onboarded.internals.run, check: "router" });
      await engine.idle();
      expect(calls).toEqual(["CheckDrift"]);
      expect((await h.store.getTenant(req.tenantId))!.tenant.drift?.inSync).toBe(true);

      calls.length = 0;
      await service.offboard({ role: "ops" }, req.tenantId);
      await engine.idle();
      expect((await h.store.getTenant(req.tenantId))!.tenant.status).toBe("offboarded");
      expect(new Set(calls)).toEqual(new Set(["Offboard", "RecordOutcome"]));
    } finally {
      await engine.close();
    }
  });
});
