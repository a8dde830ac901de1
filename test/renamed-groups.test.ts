/**
 * A distribution list of ours (the EU/US groups of split mode) that the customer's admin renames
 * in the Exchange admin center, end to end over HTTP against the simulator, on either form of the
 * service (test/support/form.ts): the service finds its group again by the identity it recorded
 * (Get-DistributionGroup's Guid), so a drift check reports the name as a difference (not a missing
 * group), remediation or a retry gives it its name back instead of trying to create a second one
 * (which Exchange refuses: the address is in use), members are read and added through that
 * identity, and offboarding removes it under its new name.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { tamperForm } from "./support/tamper-form.ts";

const suite = tamperForm("Renamed groups MSP");
const { as, writes, check } = suite;

const RENAMED = "EU list (renamed by the admin)";

/** A split tenant onboarded with two groups of ours; the EU group's name and its demo mailboxes. */
async function onboarded(extra: Record<string, unknown> = {}) {
  const tenantId = randomUUID();
  const tag = tenantId.slice(0, 8);
  const demo = await suite.sim.demo(tenantId);
  const eu = `Journal EU ${tag}`;
  await suite.onboard({
    tenantId,
    customerName: `contoso-${tag}`,
    region: "split",
    ndrAddress: demo.admin,
    groups: {
      eu: { name: eu, primarySmtpAddress: `journal-eu-${tag}@${demo.domain}`, members: [demo.alice] },
      us: {
        name: `Journal US ${tag}`,
        primarySmtpAddress: `journal-us-${tag}@${demo.domain}`,
        members: [demo.bob],
      },
    },
    ...extra,
  });
  return { tenantId, eu, demo };
}

/** The tenant's distribution groups (the seeded ones too), members by address. */
async function groups(tenantId: string) {
  return (await suite.sim.tenant(tenantId)).groups
    .filter((g) => g.recipientTypeDetails === "MailUniversalDistributionGroup")
    .map((g) => ({
      name: g.name,
      displayName: g.displayName,
      guid: g.guid,
      address: g.primarySmtpAddress,
      members: g.members.map((m) => m.toLowerCase()),
    }));
}

describe("a distribution group the customer's admin renamed", () => {
  it("a drift check reports its name as a difference, not a missing group", async () => {
    const { tenantId, eu } = await onboarded();
    await suite.sim.tamper(tenantId, { action: "rename-group", name: eu, newName: RENAMED });
    const drift = await check(tenantId);
    expect(drift.inSync).toBe(false);
    expect(drift.differences).toEqual([
      { step: "groups", object: `distribution group "${eu}"`, field: "name", expected: eu, actual: RENAMED },
    ]);
  });

  it("remediation gives it its name back: one group of ours with its members, the admin's address kept", async () => {
    const { tenantId, eu, demo } = await onboarded({ onDrift: "remediate" });
    const [before] = (await groups(tenantId)).filter((g) => g.name === eu);
    const address = `eu-list-${tenantId.slice(0, 8)}@${demo.domain}`;
    // Renamed and readdressed, and alice taken out: her add goes through the group's identity.
    await suite.sim.tamper(tenantId, {
      action: "rename-group",
      name: eu,
      newName: RENAMED,
      newAddress: address,
    });
    await suite.sim.tamper(tenantId, { action: "remove-group-member", name: RENAMED, address: demo.alice });
    await check(tenantId);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    await suite.rt.idle(tenantId);
    const ours = (await groups(tenantId)).filter((g) => g.guid === before!.guid || g.name === eu);
    expect(ours).toEqual([
      { name: eu, displayName: eu, guid: before!.guid, address, members: [demo.alice.toLowerCase()] },
    ]);
    expect(await writes(tenantId, "New-DistributionGroup")).toHaveLength(2);
    const renames = await writes(tenantId, "Set-DistributionGroup");
    expect(renames.map((c) => c.parameters)).toMatchObject([
      { Identity: before!.guid, Name: eu, DisplayName: eu },
    ]);
    // The EU rule journals the group at the address it has now.
    const rules = (await suite.sim.tenant(tenantId)).journalRules;
    expect(rules.filter((r) => r.recipient?.toLowerCase() === address)).toHaveLength(1);
    expect((await as(`/v1/tenants/${tenantId}/drift`)).body).toMatchObject({ inSync: true, differences: [] });
  });

  it("a retry after a failed run finds it by its identity and creates no second group", async () => {
    const { tenantId, eu } = await onboarded({ onDrift: "remediate" });
    await suite.sim.tamper(tenantId, { action: "rename-group", name: eu, newName: RENAMED });
    await suite.sim.failNext(
      tenantId,
      "Set-DistributionGroup",
      { kind: "error", status: 400, message: "Refused once." },
      1,
    );
    await check(tenantId);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("failed");
    expect((await groups(tenantId)).map((g) => g.name)).toContain(RENAMED);
    expect((await as(`/v1/tenants/${tenantId}/retry`, "POST")).status).toBe(202);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    const names = (await groups(tenantId)).map((g) => g.name);
    expect(names).toContain(eu);
    expect(names).not.toContain(RENAMED);
    expect(await writes(tenantId, "New-DistributionGroup")).toHaveLength(2);
  });

  it("offboarding removes it under its new name", async () => {
    const { tenantId, eu } = await onboarded();
    const guid = (await groups(tenantId)).find((g) => g.name === eu)!.guid;
    await suite.sim.tamper(tenantId, { action: "rename-group", name: eu, newName: RENAMED });
    expect((await as(`/v1/tenants/${tenantId}`, "DELETE")).status).toBe(202);
    expect((await suite.rt.waitFor(tenantId, ["offboarded", "offboarding_failed"])).status).toBe(
      "offboarded",
    );
    expect((await groups(tenantId)).filter((g) => g.guid === guid)).toEqual([]);
    expect(await writes(tenantId, "Remove-DistributionGroup")).toHaveLength(2);
  });

  it("one the admin deleted, its name given to a list of the customer's: adopted by a run, kept by offboarding", async () => {
    const { tenantId, eu, demo } = await onboarded({ onDrift: "remediate" });
    const ours = (await groups(tenantId)).find((g) => g.name === eu)!;
    await suite.sim.tamper(tenantId, { action: "remove-recipient", address: ours.address });
    // The customer's own list of our name, one colleague in it (alice is not).
    const tag = tenantId.slice(0, 8);
    const address = `staff-${tag}@${demo.domain}`;
    const group = { name: eu, address, members: 1 };
    await suite.sim.addMailboxes(tenantId, { prefix: `staff-${tag}`, count: 1, group });
    const theirs = (await groups(tenantId)).find((g) => g.address === address.toLowerCase())!;
    expect(theirs.guid).not.toBe(ours.guid);
    await check(tenantId);
    expect((await suite.rt.waitFor(tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    await suite.rt.idle(tenantId);
    expect((await groups(tenantId)).find((g) => g.guid === theirs.guid)?.members).toContain(
      demo.alice.toLowerCase(),
    );
    expect((await as(`/v1/tenants/${tenantId}`, "DELETE")).status).toBe(202);
    expect((await suite.rt.waitFor(tenantId, ["offboarded", "offboarding_failed"])).status).toBe(
      "offboarded",
    );
    // Never removed (not the service's), and the member the service added taken out again.
    const after = (await groups(tenantId)).find((g) => g.guid === theirs.guid);
    expect(after).toMatchObject({ name: eu, members: theirs.members });
  });
});
