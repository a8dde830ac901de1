/**
 * A distribution group the service adopted (one that existed before onboarding) stays the
 * customer's: the groups step never renames it, and only a group that carries our name is
 * adopted with its Guid. An -Identity read by our name may also find a group by its alias or an
 * address (Exchange takes "any value that uniquely identifies the group"): such a group was never
 * named ours, and giving it our name would rename the customer's own list.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AREA1 } from "../functions/domain/provider.ts";
import type { DiffContext } from "../functions/domain/steps/context.ts";
import { diffGroups } from "../functions/domain/steps/groups.ts";
import { exoClient } from "./support/exo.ts";
import { simulatorWithGateway } from "./support/m365.ts";

const suite = simulatorWithGateway();
const { exo } = exoClient(() => suite.sim);

/** Our EU list's name: one word, as many partners name their lists (an alias can carry it). */
const EU = "JournalEU";
const US = "JournalUS";

function request(tenantId: string) {
  const demo = suite.sim.demo(tenantId);
  return {
    tenantId,
    customerName: "contoso",
    region: "split" as const,
    outboundGateway: false,
    ndrAddress: demo.admin,
    groups: {
      eu: { name: EU, primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] },
      us: { name: US, primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] },
    },
  };
}

/** By default nothing created by the service yet: every group found is adopted. */
const context = (tenantId: string, ids: Record<string, string> = {}, owned: string[] = []): DiffContext => ({
  request: request(tenantId),
  profile: AREA1,
  m365: suite.gateway.tenant(tenantId),
  owned: { connectors: [], groups: owned, journalRules: [] },
  objectIds: { journalRules: {}, groups: ids },
});

/** The customer's own list, made by their admin before onboarding; its Guid. */
async function customersGroup(tenantId: string, name: string, alias: string): Promise<string> {
  const answer = await exo(tenantId, "New-DistributionGroup", {
    Name: name,
    Alias: alias,
    PrimarySmtpAddress: `${alias.toLowerCase()}-list@${suite.sim.demo(tenantId).domain}`,
    Type: "Distribution",
  });
  expect(answer.status).toBe(200);
  return String(answer.body.value?.[0]?.Guid);
}

const actions = (diff: Awaited<ReturnType<typeof diffGroups>>) =>
  diff.objects.filter((o) => o.object.includes(EU)).flatMap((o) => o.actions.map((a) => a.kind));

/** The writes for our EU list (the US list does not exist: it is created). */
const writes = (diff: Awaited<ReturnType<typeof diffGroups>>) =>
  diff.writes.filter((w) => w.parameters.Name !== US);
const fields = (diff: Awaited<ReturnType<typeof diffGroups>>) =>
  diff.differences.filter((d) => d.object.includes(EU)).map((d) => d.field);

describe("a distribution group the service adopted", () => {
  it("found by its alias (named otherwise): its Guid is not recorded as ours and it is never renamed", async () => {
    const tenantId = randomUUID();
    const guid = await customersGroup(tenantId, "Finance Team", EU);
    // A record that holds its Guid (as the code before this fix wrote it) renames nothing.
    const next = await diffGroups(context(tenantId, { [EU]: guid }));
    expect(fields(next)).toEqual(["members"]);
    expect(writes(next).map((w) => w.cmdlet)).toEqual(["Add-DistributionGroupMember"]);
    // Adopted to add the missing member, as before; its Guid is not kept as the list of our name.
    expect(actions(await diffGroups(context(tenantId)))).toEqual(["add-members"]);
  });

  it("found by its alias while the record says we created a group of that name (one without its Guid): its Guid is not recorded, its new members are", async () => {
    const tenantId = randomUUID();
    await customersGroup(tenantId, "Finance Team", EU);
    // Ours is gone (or was renamed before Guids were kept): the name alone cannot tell the two apart.
    const diff = await diffGroups(context(tenantId, {}, [EU, US]));
    expect(actions(diff)).toEqual(["add-members"]);
    // What we add to it is recorded as ours (taken out at offboarding), as in a group we adopted.
    const add = diff.objects.flatMap((o) => o.actions).find((a) => a.kind === "add-members");
    expect(add).toMatchObject({ adopted: true });
  });

  it("of our name, renamed later by the customer's admin: still found by its Guid, and keeps the admin's name", async () => {
    const tenantId = randomUUID();
    const guid = await customersGroup(tenantId, EU, "eulist");
    const first = await diffGroups(context(tenantId));
    expect(actions(first)).toEqual(["record-id", "add-members"]);
    suite.sim.tamper(tenantId, { action: "rename-group", name: EU, newName: "Finance EU" });
    const next = await diffGroups(context(tenantId, { [EU]: guid }));
    expect(fields(next)).toEqual(["members"]);
    expect(writes(next).map((w) => w.cmdlet)).toEqual(["Add-DistributionGroupMember"]);
    const add = next.objects.flatMap((o) => o.actions).find((a) => a.kind === "add-members");
    expect(add).toMatchObject({ identity: guid, adopted: true });
  });
});
