/**
 * A customer moving between partners, over HTTP against the real local runtime and the
 * simulator: A onboards, the customer's admin consents through B's link, B onboards. The
 * service's objects move with the binding: the tenant then holds only B's objects and journals
 * only to B's customerName; B's offboarding leaves the tenant as it was before A (the customer's
 * own objects with the customer's values).
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AREA1 } from "../functions/domain/provider.ts";
import { demoMailboxes } from "../infra/local/m365-simulator/index.ts";
import type { TenantSnapshot } from "../infra/local/m365-simulator/types.ts";
import { type FormHandle, form, type Json, slower, startForm } from "./support/form.ts";

let rt: FormHandle;
let a: { partnerId: string; apiKey: string };
let b: { partnerId: string; apiKey: string };

beforeAll(async () => {
  rt = await startForm();
  a = await rt.createPartner("partner a");
  b = await rt.createPartner("partner b");
});
afterAll(async () => {
  await rt?.close();
});

const sim = () => rt.sim;
type Mode = "us" | "split";

function body(tenantId: string, customerName: string, region: Mode, outboundGateway: boolean, tag: string) {
  const demo = demoMailboxes(tenantId);
  return {
    tenantId,
    customerName,
    region,
    outboundGateway,
    ndrAddress: demo.admin,
    ...(region === "split" && {
      groups: {
        eu: {
          name: `Journal EU ${tag}`,
          primarySmtpAddress: `journal-eu-${tag}@${demo.domain}`,
          members: [demo.alice],
        },
        us: {
          name: `Journal US ${tag}`,
          primarySmtpAddress: `journal-us-${tag}@${demo.domain}`,
          members: [demo.bob],
        },
      },
    }),
  };
}

/** What the service may touch in the tenant, comparable before and after. */
async function state(tenantId: string) {
  const t: TenantSnapshot = await sim().tenant(tenantId);
  return {
    ndr: t.journalingReportNdrTo?.toLowerCase() ?? null,
    connectors: t.connectors
      .map((c) => ({
        name: c.name,
        comment: c.comment,
        recipientDomains: c.recipientDomains,
        smartHosts: c.smartHosts,
        tlsSettings: c.tlsSettings,
        useMxRecord: c.useMxRecord,
        enabled: c.enabled,
        isValidated: c.isValidated,
      }))
      .sort((x, y) => x.name.localeCompare(y.name)),
    journalRules: [...t.journalRules].sort((x, y) => x.name.localeCompare(y.name)),
    groups: t.groups
      .map((g) => ({ ...g, members: g.members.map((m) => m.toLowerCase()).sort() }))
      .sort((x, y) => x.name.localeCompare(y.name)),
  };
}

async function get(key: string, tenantId: string): Promise<Json> {
  const { status, body } = await rt.call("GET", `/v1/tenants/${tenantId}`, { key });
  expect(status).toBe(200);
  return body;
}

async function waitFor(key: string, tenantId: string, statuses: string[]): Promise<Json> {
  for (let i = 0; i < 600 * slower; i++) {
    const t = await get(key, tenantId);
    if (statuses.includes(t.status)) return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`tenant ${tenantId} never reached ${statuses.join("/")}`);
}

/** The partner claims the tenant and the customer's admin consents through its link. */
async function onboardThroughLink(key: string, request: ReturnType<typeof body>): Promise<Json> {
  const posted = await rt.call("POST", "/v1/tenants", { key, body: request });
  expect(posted.status, JSON.stringify(posted.body)).toBe(202);
  expect(posted.body.status).toBe("awaiting_consent");
  const page = await rt.consent(posted.body.consentUrl);
  expect(page.status, page.html).toBe(200);
  const done = await waitFor(key, request.tenantId, ["succeeded", "failed"]);
  expect(done.status, JSON.stringify(done.error ?? done.steps)).toBe("succeeded");
  return done;
}

async function offboard(key: string, tenantId: string): Promise<Json> {
  expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key })).status).toBe(202);
  const done = await waitFor(key, tenantId, ["offboarded", "offboarding_failed"]);
  expect(done.status, JSON.stringify(done.steps)).toBe("offboarded");
  return done;
}

const address = (region: "us" | "eu", slug: string) =>
  region === "us" ? `${slug}@journaling.mxrecord.io` : `${slug}@mailstream-eu.journaling.mxrecord.io`;

/** B's objects and nothing else: rules, connectors and groups by name, every rule to B's slug. */
async function expectOnlyB(
  tenantId: string,
  mode: Mode,
  gateway: boolean,
  slugA: string,
  slugB: string,
  tag: string,
) {
  const now = await state(tenantId);
  const rules =
    mode === "split"
      ? [`${AREA1.journalRuleName} (EU)`, `${AREA1.journalRuleName} (US)`]
      : [AREA1.journalRuleName];
  expect(now.journalRules.map((r) => r.name).sort()).toEqual(rules.sort());
  for (const rule of now.journalRules) {
    const region = rule.name.endsWith("(EU)") ? "eu" : "us";
    expect(rule.journalEmailAddress.toLowerCase()).toBe(address(region, slugB));
    expect(rule.enabled).toBe(true);
  }
  const connectors = !gateway
    ? []
    : mode === "split"
      ? [AREA1.connectorName, `${AREA1.connectorName} (EU)`]
      : [AREA1.connectorName];
  expect(now.connectors.map((c) => c.name).sort()).toEqual(connectors.sort());
  const created = now.groups.filter((g) => !g.seeded).map((g) => g.name);
  expect(created.sort()).toEqual(mode === "split" ? [`Journal EU ${tag}`, `Journal US ${tag}`].sort() : []);
  // Nothing anywhere still names A's account (validation recipients included).
  expect(JSON.stringify(await sim().tenant(tenantId))).not.toContain(slugA);
}

/** A new tenant with the customer's own objects (below), the two partners' slugs and its state before either. */
async function customerTenant() {
  const tenantId = randomUUID();
  const short = tenantId.slice(0, 8);
  await customerObjects(tenantId);
  return { tenantId, slugA: `a-${short}`, slugB: `b-${short}`, before: await state(tenantId) };
}

/** The customer's own connector, NDR address and journal rule, of the service's names, set up by hand. */
async function customerObjects(tenantId: string): Promise<void> {
  const demo = demoMailboxes(tenantId);
  // The customer's own objects of the service's names, set up by hand before any partner.
  await sim().setConsented(tenantId, true);
  const ex = rt.local!.runtime.m365.tenant(tenantId).exchange;
  await ex.newOutboundConnector({
    name: AREA1.connectorName,
    comment: "set up by hand",
    connectorType: "Partner",
    recipientDomains: ["journaling.mxrecord.io"],
    smartHosts: ["relay.customer-archive.example"],
    useMxRecord: false,
    tlsSettings: "EncryptionOnly",
    enabled: false,
  });
  await ex.setTransportConfig({ journalingReportNdrTo: demo.contact.address });
  await ex.newJournalRule({
    name: AREA1.journalRuleName,
    journalEmailAddress: "journal@customer-archive.example",
    scope: "Global",
    recipient: null,
    enabled: false,
  });
  await sim().setConsented(tenantId, false);
}

const PAIRS: [Mode, Mode][] = [
  ["split", "us"],
  ["us", "split"],
  ["us", "us"],
];

describe("a change of owner moves the service's objects with the binding", () => {
  it.each([false, true])(
    "every pair of modes (gateway %s): only B's objects, then the tenant as before A",
    async (gateway) => {
      await Promise.all(
        PAIRS.map(async ([modeA, modeB]) => {
          const tenantId = randomUUID();
          const what = `${modeA} -> ${modeB}, gateway ${gateway}`;
          const short = tenantId.slice(0, 8);
          const [slugA, slugB] = [`a-${short}`, `b-${short}`];
          const before = await state(tenantId);
          await onboardThroughLink(a.apiKey, body(tenantId, slugA, modeA, gateway, "a"));

          await onboardThroughLink(b.apiKey, body(tenantId, slugB, modeB, gateway, "b"));
          await expectOnlyB(tenantId, modeB, gateway, slugA, slugB, "b");
          // A's record ended offboarded; its events say the tenant moved, nothing about B.
          const previous = await get(a.apiKey, tenantId);
          expect(previous.status, what).toBe("offboarded");
          expect(previous.error?.code).toBe("TENANT_MOVED");
          const events = (await rt.call("GET", `/v1/tenants/${tenantId}/events`, { key: a.apiKey })).body
            .items;
          expect(events.at(-1)).toMatchObject({
            type: "tenant.offboarding.succeeded",
            data: { error: { code: "TENANT_MOVED" } },
          });
          const seenByA = JSON.stringify([previous, events]);
          expect(seenByA).not.toContain(b.partnerId);
          expect(seenByA).not.toContain(slugB);

          await offboard(b.apiKey, tenantId);
          expect(await state(tenantId), what).toEqual(before);
        }),
      );
    },
  );

  it("ops move a tenant by hand (bindTenant) the same way", async () => {
    const tenantId = randomUUID();
    const short = tenantId.slice(0, 8);
    const [slugA, slugB] = [`a-${short}`, `b-${short}`];
    const before = await state(tenantId);
    await onboardThroughLink(a.apiKey, body(tenantId, slugA, "split", true, "a"));
    const claim = await rt.call("POST", "/v1/tenants", {
      key: b.apiKey,
      body: body(tenantId, slugB, "us", false, "b"),
    });
    expect(claim.body.status).toBe("awaiting_consent");
    // A's record may still take its run's last write (on the AWS form its execution closes after
    // the status): a 409 then is "try again", as ops would.
    let bound = { status: 0 };
    for (let i = 0; i < 60 && bound.status !== 202; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 500));
      bound = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, {
        body: { bindTenant: true, partnerId: b.partnerId },
      });
      if (bound.status !== 409) break;
    }
    expect(bound.status).toBe(202);
    expect((await waitFor(b.apiKey, tenantId, ["succeeded", "failed"])).status).toBe("succeeded");
    await expectOnlyB(tenantId, "us", false, slugA, slugB, "b");
    expect((await get(a.apiKey, tenantId)).error?.code).toBe("TENANT_MOVED");
    await offboard(b.apiKey, tenantId);
    expect(await state(tenantId)).toEqual(before);
  });

  it("with approval required, B's plan shows what goes, and the approved plan converges the tenant", async () => {
    const tenantId = randomUUID();
    const short = tenantId.slice(0, 8);
    const [slugA, slugB] = [`a-${short}`, `b-${short}`];
    await onboardThroughLink(a.apiKey, body(tenantId, slugA, "split", true, "a"));
    const posted = await rt.call("POST", "/v1/tenants", {
      key: b.apiKey,
      body: { ...body(tenantId, slugB, "us", true, "b"), approval: "required" },
    });
    await rt.consent(posted.body.consentUrl);
    const waiting = await waitFor(b.apiKey, tenantId, ["awaiting_approval", "failed", "succeeded"]);
    expect(waiting.status).toBe("awaiting_approval");
    const cmdlets = waiting.plan.map((w: Json) => `${w.cmdlet} ${w.parameters.Identity ?? ""}`.trim());
    expect(cmdlets).toEqual(
      expect.arrayContaining([
        `Remove-JournalRule ${AREA1.journalRuleName} (EU)`,
        `Remove-JournalRule ${AREA1.journalRuleName} (US)`,
        "Remove-DistributionGroup Journal EU a",
        "Remove-DistributionGroup Journal US a",
        `Remove-OutboundConnector ${AREA1.connectorName} (EU)`,
      ]),
    );
    // Nothing was written before the approval: A's rules are as they were.
    expect((await state(tenantId)).journalRules).toHaveLength(2);
    expect((await rt.call("POST", `/v1/tenants/${tenantId}/approve`, { key: b.apiKey })).status).toBe(202);
    expect((await waitFor(b.apiKey, tenantId, ["succeeded", "failed", "awaiting_approval"])).status).toBe(
      "succeeded",
    );
    await expectOnlyB(tenantId, "us", true, slugA, slugB, "b");
  });

  it("memberships A added to the customer's own group are removed when B uses no groups", async () => {
    const tenantId = randomUUID();
    const short = tenantId.slice(0, 8);
    const [slugA, slugB] = [`a-${short}`, `b-${short}`];
    const demo = demoMailboxes(tenantId);
    const before = await state(tenantId);
    const request = body(tenantId, slugA, "split", false, "a");
    // A journals the EU users through the customer's existing group, adding alice to it.
    request.groups!.eu = {
      name: demo.existingGroup.name,
      primarySmtpAddress: demo.existingGroup.address,
      members: [demo.alice],
    };
    await onboardThroughLink(a.apiKey, request);
    const adopted = async () =>
      (await state(tenantId)).groups.find((g) => g.name === demo.existingGroup.name);
    expect((await adopted())?.members).toContain(demo.alice.toLowerCase());

    await onboardThroughLink(b.apiKey, body(tenantId, slugB, "us", false, "b"));
    await expectOnlyB(tenantId, "us", false, slugA, slugB, "b");
    expect(await adopted()).toEqual(before.groups.find((g) => g.name === demo.existingGroup.name));
    await offboard(b.apiKey, tenantId);
    expect(await state(tenantId)).toEqual(before);
  });

  // The customer's own objects are written through the local form's Exchange client (in this process).
  it.skipIf(form === "aws")(
    "B offboarding before its onboarding converged still gives the customer's values back",
    async () => {
      const { tenantId, slugA, slugB, before } = await customerTenant();
      await onboardThroughLink(a.apiKey, body(tenantId, slugA, "us", true, "a"));
      // B (no gateway) fails at its first step, hand-over (giving the customer's rule its values
      // back is refused): the rule still journals to A's account, the customer's connector still
      // sends to the provider.
      await sim().failNext(
        tenantId,
        "Set-JournalRule",
        { kind: "error", status: 400, message: "refused" },
        1,
      );
      const posted = await rt.call("POST", "/v1/tenants", {
        key: b.apiKey,
        body: body(tenantId, slugB, "us", false, "b"),
      });
      await rt.consent(posted.body.consentUrl);
      const failed = await waitFor(b.apiKey, tenantId, ["succeeded", "failed"]);
      expect(failed.status).toBe("failed");
      expect(failed.steps[0]).toMatchObject({ name: "hand-over", status: "failed" });
      expect((await state(tenantId)).journalRules[0]?.journalEmailAddress.toLowerCase()).toBe(
        address("us", slugA),
      );

      await offboard(b.apiKey, tenantId);
      expect(await state(tenantId)).toEqual(before);
    },
  );

  // The customer's own objects are written through the local form's Exchange client (in this process).
  it.skipIf(form === "aws")(
    "the customer's own rule and connector, adopted by A, get the customer's values back, never A's",
    async () => {
      const { tenantId, slugA, slugB, before } = await customerTenant();

      await onboardThroughLink(a.apiKey, body(tenantId, slugA, "us", true, "a"));
      expect((await state(tenantId)).journalRules[0]?.journalEmailAddress.toLowerCase()).toBe(
        address("us", slugA),
      );

      // B journals per region: the customer's unsuffixed rule is no longer used and is theirs again.
      await onboardThroughLink(b.apiKey, body(tenantId, slugB, "split", true, "b"));
      const during = await state(tenantId);
      expect(during.journalRules.find((r) => r.name === AREA1.journalRuleName)).toEqual(
        before.journalRules.find((r) => r.name === AREA1.journalRuleName),
      );
      expect(JSON.stringify(during.journalRules)).not.toContain(slugA);
      expect(during.connectors.find((c) => c.name === AREA1.connectorName)?.smartHosts).toEqual([
        "mailstream-east.mxrecord.io",
        "mailstream-west.mxrecord.io",
      ]);

      await offboard(b.apiKey, tenantId);
      expect(await state(tenantId)).toEqual(before);
    },
  );
});
