/**
 * Hydration that takes days: after Enable-OrganizationCustomization (sent once, never again), the
 * step is retried by the workflow (Step Functions waits, no Lambda held) for up to 48 hours, and
 * shows until when it waits. The local engine waits each Retry interval scaled (60 s -> 60 ms)
 * without backoff: the old policy's 10 tries (about an hour in AWS) lasted about a second here,
 * the new one's 53 tries (48 hours in AWS) several; the simulator keeps writes failing for 3 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorFromResponse } from "../functions/adapters/m365/error-model.ts";
import { DehydratedOrganizationError } from "../functions/domain/errors.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  h.sim.configure({ hydrationDelayMs: 0 });
  await h?.close();
});

describe("a dehydrated organisation", () => {
  it("recognises Microsoft's text 'you first need to run the command: Enable-OrganizationCustomization'", () => {
    const body = JSON.stringify({
      error: {
        code: "InternalServerError",
        message:
          "The command you tried to run isn't currently allowed in your organization. To run this command, you first need to run the command: Enable-OrganizationCustomization.",
      },
    });
    expect(errorFromResponse("exchange", "New-JournalRule", 500, new Headers(), body)).toBeInstanceOf(
      DehydratedOrganizationError,
    );
  });

  it("waits beyond an hour for hydration, sends Enable-OrganizationCustomization once, and shows until when it waits", async () => {
    const req = h.request({ region: "us", outboundGateway: false });
    h.sim.setDehydrated(req.tenantId, true);
    h.sim.configure({ hydrationDelayMs: 3_000 });
    const seen: { step: string; waitingUntil: string; error?: string }[] = [];
    let done = false;
    const watch = (async () => {
      while (!done) {
        const stored = await h.store.getTenant(req.tenantId);
        for (const s of stored?.tenant.steps ?? []) {
          if (s.waitingUntil) seen.push({ step: s.name, waitingUntil: s.waitingUntil, error: s.error?.code });
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    let tenant: Awaited<ReturnType<WorkflowHarness["onboard"]>>;
    try {
      tenant = await h.onboard(req);
    } finally {
      done = true;
      await watch;
      h.sim.configure({ hydrationDelayMs: 0 });
    }
    expect(tenant.error).toBeUndefined();
    expect(tenant.status).toBe("succeeded");
    const enables = h.sim
      .calls(req.tenantId)
      .filter((c) => c.operation === "Enable-OrganizationCustomization");
    expect(enables).toHaveLength(1);

    // While the workflow waited, the step said so: ORGANIZATION_HYDRATING, until 48 hours after the call.
    expect(seen.length).toBeGreaterThan(0);
    const enabledAt = (await h.store.getTenant(req.tenantId))!.internals.customizationEnabledAt!;
    const expected = new Date(Date.parse(enabledAt) + 48 * 3_600_000).toISOString();
    expect(seen[0]).toMatchObject({ waitingUntil: expected, error: "ORGANIZATION_HYDRATING" });
    // Once it succeeded, the wait is no longer shown.
    expect(tenant.steps.every((s) => s.waitingUntil === undefined)).toBe(true);
  });
});
