/**
 * What the groups step decides about a distribution group the customer's admin renamed, with the
 * real Exchange adapter against the simulator: found by the Guid the service recorded, its name a
 * difference given back with Set-DistributionGroup (never a second group), its address left as the
 * admin set it; a record without the group's identity (written before identities were kept)
 * works by name as before and gets the Guid recorded; a group someone else later gave our name is
 * never taken for ours.
 */
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AREA1 } from "../functions/domain/provider.ts";
import type { DiffContext } from "../functions/domain/steps/context.ts";
import { diffGroups } from "../functions/domain/steps/groups.ts";
import { findOwnedGroup } from "../functions/domain/steps/object-identity.ts";
import { simulatorWithGateway } from "./support/m365.ts";

const suite = simulatorWithGateway();

const EU = "Journal EU";
const US = "Journal US";
const RENAMED = "EU list (renamed by the admin)";

/** A split tenant holding our two groups, as onboarding created them; the EU group's Guid. */
async function tenantWithOurGroups(): Promise<{ tenantId: string; guid: string }> {
  const tenantId = randomUUID();
  const exchange = suite.gateway.tenant(tenantId).exchange;
  const eu = await exchange.newDistributionGroup(spec(tenantId, "eu"));
  await exchange.newDistributionGroup(spec(tenantId, "us"));
  expect(eu.guid).toBe(suite.sim.tenant(tenantId).groups.find((g) => g.name === EU)?.guid);
  return { tenantId, guid: eu.guid };
}

function spec(tenantId: string, region: "eu" | "us") {
  const demo = suite.sim.demo(tenantId);
  return region === "eu"
    ? { name: EU, primarySmtpAddress: `journal-eu@${demo.domain}`, members: [demo.alice] }
    : { name: US, primarySmtpAddress: `journal-us@${demo.domain}`, members: [demo.bob] };
}

const context = (tenantId: string, ids: Record<string, string> | undefined): DiffContext => ({
  request: {
    tenantId,
    customerName: "contoso",
    region: "split",
    outboundGateway: false,
    ndrAddress: suite.sim.demo(tenantId).admin,
    groups: { eu: spec(tenantId, "eu"), us: spec(tenantId, "us") },
  },
  profile: AREA1,
  m365: suite.gateway.tenant(tenantId),
  owned: { connectors: [], groups: [EU, US], journalRules: [] },
  ...(ids ? { objectIds: { journalRules: {}, groups: ids } } : {}),
});

describe("a distribution group the customer's admin renamed", () => {
  it("is found by its recorded Guid: its name is the one difference, given back by its Guid; its new address stays", async () => {
    const { tenantId, guid } = await tenantWithOurGroups();
    const address = `eu-list@${suite.sim.demo(tenantId).domain}`;
    suite.sim.tamper(tenantId, { action: "rename-group", name: EU, newName: RENAMED, newAddress: address });
    const usGuid = suite.sim.tenant(tenantId).groups.find((g) => g.name === US)!.guid;
    const diff = await diffGroups(context(tenantId, { [EU]: guid, [US]: usGuid }));
    expect(diff.differences).toEqual([
      { step: "groups", object: `distribution group "${EU}"`, field: "name", expected: EU, actual: RENAMED },
    ]);
    expect(diff.writes.map((w) => [w.cmdlet, w.parameters])).toEqual([
      ["Set-DistributionGroup", { Identity: guid, Name: EU, DisplayName: EU }],
    ]);
  });

  it("a member missing from the renamed group is planned as added to the group found by its Guid (what is sent), not by our name", async () => {
    const { tenantId, guid } = await tenantWithOurGroups();
    suite.sim.tamper(tenantId, { action: "rename-group", name: EU, newName: RENAMED });
    const usGuid = suite.sim.tenant(tenantId).groups.find((g) => g.name === US)!.guid;
    const ctx = context(tenantId, { [EU]: guid, [US]: usGuid });
    const demo = suite.sim.demo(tenantId);
    ctx.request.groups!.eu!.members = [demo.alice, demo.bob];
    const diff = await diffGroups(ctx);
    expect(diff.writes.map((w) => [w.cmdlet, w.parameters["Identity"]])).toEqual([
      ["Set-DistributionGroup", guid],
      ["Add-DistributionGroupMember", guid],
    ]);
  });

  it("without a recorded identity (an older record) reads by name as before; a run records the Guid it finds", async () => {
    const { tenantId, guid } = await tenantWithOurGroups();
    const inSync = await diffGroups(context(tenantId, undefined));
    expect(inSync.differences).toEqual([]);
    expect(inSync.writes).toEqual([]);
    const usGuid = suite.sim.tenant(tenantId).groups.find((g) => g.name === US)!.guid;
    expect(inSync.objects.flatMap((o) => o.actions)).toEqual([
      { kind: "record-id", idKind: "groups", name: EU, id: guid },
      { kind: "record-id", idKind: "groups", name: US, id: usGuid },
    ]);
    // Recorded already: nothing to do.
    expect((await diffGroups(context(tenantId, { [EU]: guid, [US]: usGuid }))).objects).toEqual([]);
    // Renamed before its Guid was recorded: only its name was known (what older records did).
    suite.sim.tamper(tenantId, { action: "rename-group", name: EU, newName: RENAMED });
    const missing = await diffGroups(context(tenantId, { [US]: usGuid }));
    expect(missing.differences.map((d) => d.field)).toEqual(["exists"]);
  });

  it("a group someone else later gave our name is not taken for ours", async () => {
    const { tenantId, guid } = await tenantWithOurGroups();
    suite.sim.tamper(tenantId, { action: "rename-group", name: EU, newName: RENAMED });
    const demo = suite.sim.demo(tenantId);
    await suite.gateway.tenant(tenantId).exchange.newDistributionGroup({
      name: EU,
      primarySmtpAddress: `theirs@${demo.domain}`,
      members: [demo.bob],
    });
    const ours = await findOwnedGroup(context(tenantId, { [EU]: guid }), EU);
    expect(ours).toMatchObject({ name: RENAMED, guid, identity: guid });
    expect((await findOwnedGroup(context(tenantId, undefined), EU))?.guid).not.toBe(guid);
  });
});

describe("a distribution group of ours the customer's admin deleted, and a list of the customer's given our name", () => {
  /** Our EU group removed; the customer's own list of that name (Bob only: Alice is missing). */
  async function replacedByTheirs(): Promise<{ tenantId: string; guid: string }> {
    const { tenantId, guid } = await tenantWithOurGroups();
    const exchange = suite.gateway.tenant(tenantId).exchange;
    await exchange.removeDistributionGroup(guid);
    const demo = suite.sim.demo(tenantId);
    await exchange.newDistributionGroup({
      name: EU,
      primarySmtpAddress: `theirs@${demo.domain}`,
      members: [demo.bob],
    });
    return { tenantId, guid };
  }

  it("is not ours to remove: offboarding and leftovers find nothing of ours under that name", async () => {
    const { tenantId, guid } = await replacedByTheirs();
    expect(await findOwnedGroup(context(tenantId, { [EU]: guid }), EU)).toBeUndefined();
  });

  it("is adopted by a run (members added as the service's own, its Guid not taken for ours)", async () => {
    const { tenantId, guid } = await replacedByTheirs();
    const usGuid = suite.sim.tenant(tenantId).groups.find((g) => g.name === US)!.guid;
    const diff = await diffGroups(context(tenantId, { [EU]: guid, [US]: usGuid }));
    const actions = diff.objects.flatMap((o) => o.actions);
    expect(actions.filter((a) => a.kind === "record-id")).toEqual([]);
    expect(actions.filter((a) => a.kind === "add-members")).toMatchObject([
      { kind: "add-members", group: EU, identity: EU, adopted: true },
    ]);
  });
});
