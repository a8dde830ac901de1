/**
 * Tenants onboarded before the service recorded its journal rules' identities: their records hold
 * the rules' names only. A drift check (reads only in the tenant) records the Guid of each rule it
 * finds by name, so that a later rename by the customer's admin cannot hide the rule from
 * offboarding. The real store on dynalite, the real task handlers and workflow, the simulator.
 */
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantKey } from "../functions/adapters/dynamodb/keys.ts";
import { AREA1 } from "../functions/domain/provider.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

let h: WorkflowHarness;

beforeAll(async () => {
  h = await workflowHarness();
});

afterAll(async () => {
  await h?.close();
});

describe("a tenant whose record has no rule identities (onboarded by an earlier version)", () => {
  it("gets them recorded by its next drift check; a rule renamed after that is still removed by offboarding", async () => {
    const req = h.request({ region: "split" });
    expect((await h.onboard(req)).status).toBe("succeeded");
    // The record as an earlier version wrote it: no identities.
    await h.table.docClient.send(
      new UpdateCommand({
        TableName: h.table.tableName,
        Key: tenantKey(req.tenantId),
        UpdateExpression: "REMOVE objectIds",
      }),
    );
    const writesBefore = h.writes(req.tenantId).length;
    await h.handlers.CheckDrift({ tenantId: req.tenantId, run: 0 });
    expect(h.writes(req.tenantId)).toHaveLength(writesBefore); // nothing written in the tenant
    const ids = (await h.store.getTenant(req.tenantId))!.internals.objectIds.journalRules;
    const guids = (await h.m365.tenant(req.tenantId).exchange.listJournalRules()).map((r) => r.guid);
    expect(Object.values(ids).sort()).toEqual([...guids].sort());

    const eu = `${AREA1.journalRuleName} (EU)`;
    h.sim.tamper(req.tenantId, { action: "rename-journal-rule", name: eu, newName: "Renamed by the admin" });
    expect((await h.offboard(req.tenantId)).status).toBe("offboarded");
    expect(h.sim.tenant(req.tenantId).journalRules).toEqual([]);
  });
});

describe("a tenant whose record has its rules' identities only (onboarded before groups' were kept)", () => {
  it("gets its groups' recorded by its next drift check; a group renamed after that is still removed by offboarding", async () => {
    const req = h.request({ region: "split" });
    expect((await h.onboard(req)).status).toBe("succeeded");
    const rules = (await h.store.getTenant(req.tenantId))!.internals.objectIds.journalRules;
    // The record as the version before wrote it: the rules' map only.
    await h.table.docClient.send(
      new UpdateCommand({
        TableName: h.table.tableName,
        Key: tenantKey(req.tenantId),
        UpdateExpression: "SET objectIds = :ids",
        ExpressionAttributeValues: { ":ids": { journalRules: rules } },
      }),
    );
    const writesBefore = h.writes(req.tenantId).length;
    await h.handlers.CheckDrift({ tenantId: req.tenantId, run: 0 });
    expect(h.writes(req.tenantId)).toHaveLength(writesBefore); // nothing written in the tenant
    const ids = (await h.store.getTenant(req.tenantId))!.internals.objectIds;
    const groups = req.groups!;
    const exchange = h.m365.tenant(req.tenantId).exchange;
    const guids = await Promise.all(
      [groups.eu.name, groups.us.name].map(async (n) => (await exchange.getDistributionGroup(n))!.guid),
    );
    expect(ids.groups).toEqual({ [groups.eu.name]: guids[0], [groups.us.name]: guids[1] });
    expect(ids.journalRules).toEqual(rules);

    h.sim.tamper(req.tenantId, {
      action: "rename-group",
      name: groups.eu.name,
      newName: "Renamed by the admin",
    });
    expect((await h.offboard(req.tenantId)).status).toBe("offboarded");
    const left = h.sim.tenant(req.tenantId).groups.filter((g) => guids.includes(g.guid));
    expect(left).toEqual([]);
  });
});
