/**
 * A journal rule of the customer's that the service adopted (it had the name of the EU rule)
 * journals the EU group; the customer's admin then gives that group another address, and the
 * service's next run points the rule at the group's address as Exchange reads it
 * (docs/m365-fidelity.md G13). Offboarding gives the customer their rule back whole: its scope
 * too, not the address of a group the same offboarding removes (a rule journaling a recipient that
 * no longer exists journals nothing). Through the real workflow.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AREA1 } from "../functions/domain/provider.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness();
});
afterAll(async () => {
  await h?.close();
});

const EU_RULE = `${AREA1.journalRuleName} (EU)`;
const THEIRS = {
  name: EU_RULE,
  journalEmailAddress: "journal@customer-archive.example",
  scope: "Global" as const,
  recipient: null,
  enabled: true,
};

describe("an adopted journal rule whose group the customer's admin readdressed", () => {
  it("offboarding restores the rule's own recipient, not the group's new address", async () => {
    const tenantId = randomUUID();
    const demo = h.sim.demo(tenantId);
    const ex = h.m365.tenant(tenantId).exchange;
    await ex.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
    await ex.newJournalRule(THEIRS);
    const request = h.request({ tenantId, region: "split" });
    expect((await h.onboard(request)).status).toBe("succeeded");
    const rule = () => h.sim.tenant(tenantId).journalRules.find((r) => r.name === EU_RULE);
    expect(rule()?.recipient?.toLowerCase()).toBe(request.groups!.eu.primarySmtpAddress.toLowerCase());

    const address = `eu-list@${demo.domain}`;
    const eu = request.groups!.eu.name;
    h.sim.tamper(tenantId, { action: "rename-group", name: eu, newName: eu, newAddress: address });
    expect((await h.rerun(tenantId)).status).toBe("succeeded");
    // The rule follows the group's address.
    expect(rule()?.recipient?.toLowerCase()).toBe(address);

    const after = await h.offboard(tenantId);
    expect(after.error ?? after.status).toBe("offboarded");
    expect(rule()).toMatchObject({
      journalEmailAddress: THEIRS.journalEmailAddress,
      scope: "Global",
      enabled: true,
    });
    expect(rule()?.recipient ?? null).toBeNull();
  });
});
