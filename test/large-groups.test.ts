/**
 * The wedge of issue "state that holds at scale": adopting a group of 500 and adding thousands of members to
 * it used to record every membership in the tenant item, which reached DynamoDB's 400 KB near
 * 6,000 members; from then on every state change failed (the tenant stuck `running`, retry and
 * DELETE answered 500, the members could not be removed). Here the same run at a smaller scale,
 * with the store's item limit scaled down in proportion (16 KB: about 250 memberships in the old
 * set), through the real workflow, store and simulator. The full size (8,000 added to 500) runs in
 * `npm run bench` (bench/dynamodb-scale.ts).
 */
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { itemBytes } from "../functions/adapters/dynamodb/item-size.ts";
import { type WorkflowHarness, workflowHarness } from "./support/workflow.ts";

const ADOPTED = 100;
const ADDED = 300;

let h: WorkflowHarness;
beforeAll(async () => {
  h = await workflowHarness({ storeOptions: { maxItemBytes: 16 * 1024 } });
  h.sim.configure({ latencyMs: 0 });
});
afterAll(async () => {
  await h?.close();
});

const rawTenant = async (tenantId: string) =>
  (
    await h.table.docClient.send(
      new GetCommand({ TableName: h.table.tableName, Key: { pk: `TENANT#${tenantId}`, sk: "TENANT" } }),
    )
  ).Item as Record<string, unknown>;

describe("adopting a group and adding many members", () => {
  it("onboards and offboards without growing the tenant item, leaving the group as it was", async () => {
    const req = h.request({ region: "split" });
    const demo = h.sim.demo(req.tenantId);
    const group = { name: "All Staff EU", address: `all-staff-eu@${demo.domain}`, members: ADOPTED };
    const addresses = await h.sim.addMailboxes(req.tenantId, {
      prefix: "staff",
      count: ADOPTED + ADDED,
      group,
    });
    req.groups = {
      eu: { name: group.name, primarySmtpAddress: group.address, members: addresses },
      us: req.groups!.us,
    };
    const small = h.request({ region: "split" });
    expect((await h.onboard(small)).status).toBe("succeeded");

    const transition = vi.spyOn(h.store, "transition");
    const tenant = await h.onboard(req);
    expect(tenant.status).toBe("succeeded");
    // The step showed where it stood after each batch of 100 (then cleared it).
    const progress = transition.mock.calls.flatMap(([, change]) => change.steps?.groups?.progress ?? []);
    expect(progress).toEqual([
      "All Staff EU: members 100 of 300",
      "All Staff EU: members 200 of 300",
      "All Staff EU: members 300 of 300",
    ]);
    expect(tenant.steps.find((s) => s.name === "groups")?.progress).toBeUndefined();
    transition.mockRestore();
    const inGroup = () => h.sim.tenant(req.tenantId).groups.find((g) => g.name === group.name)!.members;
    expect(inGroup()).toHaveLength(ADOPTED + ADDED);
    // One write per batch of 100 memberships, each recorded in an item of its own.
    expect(await h.store.listOwnedMembers(req.tenantId, 5_000)).toHaveLength(ADDED);
    // The tenant item is no larger than a tenant's with a three-member group (the groups of the
    // request are stored apart: 2 x 500 addresses are over the inline size).
    const big = itemBytes(await rawTenant(req.tenantId));
    expect(big).toBeLessThan(itemBytes(await rawTenant(small.tenantId)) + 512);
    expect(big).toBeLessThan(16 * 1024);

    const off = await h.offboard(req.tenantId);
    expect(off.status).toBe("offboarded");
    expect(inGroup()).toHaveLength(ADOPTED);
    expect(await h.store.listOwnedMembers(req.tenantId, 10)).toEqual([]);
  });
});
