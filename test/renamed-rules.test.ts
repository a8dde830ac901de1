/**
 * A journal rule the customer's admin renames in the Exchange admin center, end to end over HTTP
 * against the simulator, on either form of the service (test/support/form.ts): the service finds
 * its rule again by the identity it recorded (Get-JournalRule's Guid), so a drift check reports the
 * name as a difference (not a missing rule), remediation renames it back instead of creating a
 * second rule, and offboarding removes it under its new name: after offboarding no rule journals
 * the customer's mail to the provider.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AREA1 } from "../functions/domain/provider.ts";
import { tamperForm } from "./support/tamper-form.ts";

const suite = tamperForm("Renamed rules MSP");
const { as, writes, check } = suite;

const RULE = AREA1.journalRuleName;
const RENAMED = "Journaling (renamed by the admin)";

async function onboarded(extra: Record<string, unknown> = {}): Promise<string> {
  const tenantId = randomUUID();
  await suite.onboard({
    tenantId,
    customerName: `contoso-${tenantId.slice(0, 8)}`,
    region: "us",
    ndrAddress: (await suite.sim.demo(tenantId)).admin,
    ...extra,
  });
  return tenantId;
}

/** The tenant's journal rules that send its mail to the provider (any name). */
const journalingToProvider = async (tenantId: string) =>
  (await suite.sim.tenant(tenantId)).journalRules.filter((r) => /mxrecord\.io$/i.test(r.journalEmailAddress));

describe("a journal rule the customer's admin renamed", () => {
  it("a drift check reports its name as a difference, not a missing rule", async () => {
    const tenantId = await onboarded();
    await suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    const drift = await check(tenantId);
    expect(drift.inSync).toBe(false);
    expect(drift.differences).toEqual([
      {
        step: "journal-rules",
        object: `journal rule "${RULE}"`,
        field: "name",
        expected: RULE,
        actual: RENAMED,
      },
    ]);
    expect(await writes(tenantId, "New-JournalRule")).toHaveLength(1);
  });

  it("remediation renames it back: exactly one rule journals to the provider, under our name", async () => {
    const tenantId = await onboarded({ onDrift: "remediate" });
    await suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    await check(tenantId);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    await suite.rt.idle(tenantId);
    const rules = await journalingToProvider(tenantId);
    expect(rules.map((r) => r.name)).toEqual([RULE]);
    expect(await writes(tenantId, "New-JournalRule")).toHaveLength(1);
    const renames = await writes(tenantId, "Set-JournalRule");
    expect(renames.map((c) => c.parameters)).toEqual([{ Identity: expect.any(String), Name: RULE }]);
    // The run checked again as it ended: in sync.
    expect((await as(`/v1/tenants/${tenantId}/drift`)).body).toMatchObject({ inSync: true, differences: [] });
  });

  it("a retry after a failed run finds it by its identity and creates no second rule", async () => {
    const tenantId = await onboarded({ onDrift: "remediate" });
    await suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    // The remediation run's rename is refused once: the run fails, still holding the renamed rule.
    await suite.sim.failNext(
      tenantId,
      "Set-JournalRule",
      { kind: "error", status: 400, message: "Refused once." },
      1,
    );
    await check(tenantId);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("failed");
    expect((await journalingToProvider(tenantId)).map((r) => r.name)).toEqual([RENAMED]);
    expect((await as(`/v1/tenants/${tenantId}/retry`, "POST")).status).toBe(202);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    expect((await journalingToProvider(tenantId)).map((r) => r.name)).toEqual([RULE]);
    expect(await writes(tenantId, "New-JournalRule")).toHaveLength(1);
  });

  it("offboarding removes it under its new name: no rule journals to the provider afterwards", async () => {
    const tenantId = await onboarded();
    await suite.sim.tamper(tenantId, { action: "rename-journal-rule", name: RULE, newName: RENAMED });
    expect((await as(`/v1/tenants/${tenantId}`, "DELETE")).status).toBe(202);
    expect((await suite.rt.waitFor(tenantId, ["offboarded", "offboarding_failed"])).status).toBe(
      "offboarded",
    );
    expect(await journalingToProvider(tenantId)).toEqual([]);
    const removed = await writes(tenantId, "Remove-JournalRule");
    expect(removed).toHaveLength(1);
  });
});
