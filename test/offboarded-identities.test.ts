/**
 * What the service keeps of a tenant's objects after its owner offboarded it, when another
 * partner registers it next, over HTTP against the local runtime and the simulator: the Guid the
 * first owner recorded for a list of the customer's it adopted does not outlive that offboarding
 * into the next registration, so the next owner's run never acts on that list after the customer
 * renamed it and made a new one of the name.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import { type FormHandle, startForm } from "./support/form.ts";

let rt: FormHandle;
let a: { partnerId: string; apiKey: string };
let b: { partnerId: string; apiKey: string };

beforeAll(async () => {
  rt = await startForm({ env: { DRIFT_CHECK_INTERVAL: "0" } });
  a = await rt.createPartner("offboarding partner a");
  b = await rt.createPartner("next partner b");
});
afterAll(async () => {
  await rt?.close();
});

/** The customer's own list that the EU group of the request names (adopted: alice added). */
const listOf = (tenantId: string) => {
  const tag = tenantId.slice(0, 8);
  return { name: `Customer EU ${tag}`, address: `customer-eu-${tag}@${demoMailboxes(tenantId).domain}` };
};

/** A split request whose EU group is the customer's list. */
function request(tenantId: string) {
  const demo = demoMailboxes(tenantId);
  const tag = tenantId.slice(0, 8);
  const list = listOf(tenantId);
  return {
    tenantId,
    customerName: `contoso-${tag}`,
    region: "split",
    outboundGateway: false,
    ndrAddress: demo.admin,
    groups: {
      eu: {
        name: list.name,
        primarySmtpAddress: list.address,
        members: [demo.alice],
      },
      us: {
        name: `Journal US ${tag}`,
        primarySmtpAddress: `journal-us-${tag}@${demo.domain}`,
        members: [demo.bob],
      },
    },
  };
}

async function onboard(key: string, body: ReturnType<typeof request>) {
  const posted = await rt.call("POST", "/v1/tenants", { key, body });
  expect(posted.status, JSON.stringify(posted.body)).toBe(202);
  expect((await rt.consent(posted.body.consentUrl)).status).toBe(200);
  const done = await rt.waitFor(body.tenantId, ["succeeded", "failed"]);
  expect(done.status, JSON.stringify(done.error ?? done.steps)).toBe("succeeded");
  await rt.idle(body.tenantId);
}

describe("a list of the customer's adopted by a partner that offboarded", () => {
  it("is not acted on by the next partner's run once the customer renamed it and made a new one of its name", async () => {
    const tenantId = randomUUID();
    const demo = demoMailboxes(tenantId);
    const body = request(tenantId);
    const list = listOf(tenantId);
    const tag = tenantId.slice(0, 8);
    await rt.sim.addMailboxes(tenantId, { prefix: `eu-${tag}`, count: 1, group: { ...list, members: 1 } });
    await onboard(a.apiKey, body);
    const legacy = (await rt.sim.tenant(tenantId)).groups.find((g) => g.name === list.name)!;
    expect(legacy.members.map((m) => m.toLowerCase())).toContain(demo.alice.toLowerCase());
    expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.apiKey })).status).toBe(202);
    expect((await rt.waitFor(tenantId, ["offboarded", "offboarding_failed"])).status).toBe("offboarded");
    await rt.idle(tenantId);
    // The customer renames its list (its address too) and makes a new one with the old name.
    await rt.sim.tamper(tenantId, {
      action: "rename-group",
      name: list.name,
      newName: `Legacy archive ${tag}`,
      newAddress: `legacy-archive-${tag}@${demo.domain}`,
    });
    // (Another address: the renamed list keeps its old one as a secondary address.)
    const made = { name: list.name, address: `customer-eu-new-${tag}@${demo.domain}`, members: 1 };
    await rt.sim.addMailboxes(tenantId, { prefix: `staff-${tag}`, count: 1, group: made });
    await rt.sim.resetCalls();
    await onboard(b.apiKey, body);
    const groups = (await rt.sim.tenant(tenantId)).groups;
    const renamed = groups.find((g) => g.guid === legacy.guid)!;
    expect(renamed.name).toBe(`Legacy archive ${tag}`);
    expect(renamed.members.map((m) => m.toLowerCase())).not.toContain(demo.alice.toLowerCase());
    const fresh = groups.find((g) => g.name === list.name)!;
    expect(fresh.guid).not.toBe(legacy.guid);
    expect(fresh.members.map((m) => m.toLowerCase())).toContain(demo.alice.toLowerCase());
    const writes = (await rt.sim.calls(tenantId)).filter((c) => c.write && c.status < 400);
    expect(writes.filter((c) => c.operation === "Set-DistributionGroup")).toEqual([]);
  });
});
