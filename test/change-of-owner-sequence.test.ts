/**
 * A change of owner hides the previous owner's event count, over HTTP on either form
 * (test/support/form.ts): A onboards the tenant, the customer's admin consents through B's link.
 * Every event B reads and every webhook body B receives counts B's registration from 1 with no
 * gap (never continuing A's sequences), paging included; A sees nothing of B's registration.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type FormHandle, type Json, startForm } from "./support/form.ts";
import { receiveWebhooks, type WebhookReceiver } from "./support/webhook-receiver.ts";

let rt: FormHandle;
let a: { partnerId: string; apiKey: string };
let b: { partnerId: string; apiKey: string };
let hooksA: WebhookReceiver;
let hooksB: WebhookReceiver;

beforeAll(async () => {
  rt = await startForm();
  a = await rt.createPartner("partner a");
  b = await rt.createPartner("partner b");
  hooksA = await receiveWebhooks(rt, a.apiKey);
  hooksB = await receiveWebhooks(rt, b.apiKey);
});
afterAll(async () => {
  hooksA?.close();
  hooksB?.close();
  await rt?.close();
});

/** The partner claims the tenant (its admin consents through the partner's link when asked); onboarding ends. */
async function onboardThroughLink(key: string, tenantId: string, customerName: string): Promise<void> {
  await rt.onboard(key, { tenantId, customerName });
  const done = await rt.waitFor(tenantId, ["succeeded", "failed"]);
  expect(done.status, JSON.stringify(done.error ?? done.steps)).toBe("succeeded");
}

/** Every event of the tenant as the partner reads it, `limit` a page, following the cursors. */
async function eventsOf(key: string, tenantId: string, limit: number): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const query = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const page = await rt.call("GET", `/v1/tenants/${tenantId}/events?${query}`, { key });
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    items.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return items;
}

const sequencesOf = (bodies: Json[], tenantId: string) =>
  bodies.filter((x) => x.data.tenantId === tenantId).map((x) => x.data.sequence as number);
const oneToN = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe("a change of owner and the event sequence", () => {
  it("B's events and webhooks count from 1 with no gap; A sees nothing of B's", async () => {
    const tenantId = randomUUID();
    const short = tenantId.slice(0, 8);
    await onboardThroughLink(a.apiKey, tenantId, `a-${short}`);
    await rt.deliveriesIdle();
    const countA = sequencesOf(hooksA.received, tenantId).length;
    expect(countA).toBeGreaterThan(3);

    await onboardThroughLink(b.apiKey, tenantId, `b-${short}`);
    await rt.idle(tenantId);
    await rt.deliveriesIdle();

    // B's history: 1..n, the same with small pages (the cursor counts as B does).
    const events = await eventsOf(b.apiKey, tenantId, 100);
    expect(events.length).toBeGreaterThan(3);
    expect(events.map((e) => e.data.sequence)).toEqual(oneToN(events.length));
    expect(await eventsOf(b.apiKey, tenantId, 2)).toEqual(events);
    expect(events[0].type).toBe("tenant.onboarding.started");

    // B's webhooks: the same sequences, in order (at least once: a repeat is allowed, no gap).
    const received = sequencesOf(hooksB.received, tenantId);
    expect([...new Set(received)]).toEqual(oneToN(events.length));
    expect(received).toEqual([...received].sort((x, y) => x - y));

    // B's deliveries list counts the same way.
    const deliveries = await rt.call("GET", `/v1/webhook/deliveries?tenantId=${tenantId}&limit=100`, {
      key: b.apiKey,
    });
    expect(deliveries.status).toBe(200);
    expect(deliveries.body.items.map((d: Json) => d.sequence).sort((x: number, y: number) => x - y)).toEqual(
      oneToN(events.length),
    );

    // The lists' cursors do not carry the stored sequence (their positions are sealed).
    for (const query of [`tenantId=${tenantId}&limit=2`, "limit=2"]) {
      const paged = await rt.call("GET", `/v1/webhook/deliveries?${query}`, { key: b.apiKey });
      const decoded = Buffer.from(paged.body.nextCursor, "base64url").toString("utf8");
      expect(decoded, query).not.toMatch(/DELIVERY#|#[0-9]{10}|_[0-9]+"/);
      const next = await rt.call("GET", `/v1/webhook/deliveries?${query}&cursor=${paged.body.nextCursor}`, {
        key: b.apiKey,
      });
      expect(next.status).toBe(200);
      expect(next.body.items[0].deliveryId).not.toBe(paged.body.items[1].deliveryId);
    }

    // Their ids name B's numbers only, and B can replay one by its id: the same numbers again.
    const ids = deliveries.body.items.map((d: Json) => d.deliveryId as string);
    for (const [i, n] of oneToN(events.length).entries())
      expect(
        ids.filter((id: string) => id.startsWith(`dlv_${tenantId}_${n}_`)),
        String(i),
      ).toHaveLength(1);
    const third = ids.find((id: string) => id.startsWith(`dlv_${tenantId}_3_`))!;
    const replayed = await rt.call("POST", `/v1/webhook/deliveries/${third}/replay`, { key: b.apiKey });
    expect(replayed.status, JSON.stringify(replayed.body)).toBe(202);
    expect(replayed.body).toMatchObject({ deliveryId: third, sequence: 3 });
    // A cannot replay it (another partner's delivery is not found).
    expect((await rt.call("POST", `/v1/webhook/deliveries/${third}/replay`, { key: a.apiKey })).status).toBe(
      404,
    );
    await rt.deliveriesIdle();
    expect(sequencesOf(hooksB.received, tenantId).at(-1)).toBe(3);

    // A: its record ended (TENANT_MOVED); no webhook of B's registration reached A.
    expect(sequencesOf(hooksA.received, tenantId)).toHaveLength(countA + 1);
    const last = hooksA.received.filter((x) => x.data.tenantId === tenantId).at(-1);
    expect(last).toMatchObject({
      type: "tenant.offboarding.succeeded",
      data: { error: { code: "TENANT_MOVED" } },
    });
    const seenByA = await eventsOf(a.apiKey, tenantId, 100);
    expect(seenByA.at(-1)).toMatchObject({ data: { error: { code: "TENANT_MOVED" } } });
    expect(JSON.stringify(seenByA)).not.toContain(b.partnerId);
    expect(JSON.stringify(seenByA)).not.toContain(`b-${short}`);

    // The customer goes back to A: A continues where it stopped (its TENANT_MOVED event was
    // countA + 1), and learns nothing of how many events B had.
    await onboardThroughLink(a.apiKey, tenantId, `a-${short}`);
    await rt.idle(tenantId);
    await rt.deliveriesIdle();
    const back = await eventsOf(a.apiKey, tenantId, 100);
    expect(back.map((e) => e.data.sequence)).toEqual(back.map((_, i) => countA + 2 + i));
    const toA = sequencesOf(hooksA.received, tenantId);
    expect([...new Set(toA)]).toEqual(oneToN(countA + 1 + back.length));
    // And B's record, ended in its turn, shows B's numbers only.
    const lastOfB = sequencesOf(hooksB.received, tenantId).at(-1);
    expect(lastOfB).toBe(events.length + 1);
  });

  it("the same partner onboarding its tenant again keeps counting: no sequence is shown twice", async () => {
    const tenantId = randomUUID();
    await onboardThroughLink(a.apiKey, tenantId, `a-${tenantId.slice(0, 8)}`);
    expect((await rt.call("DELETE", `/v1/tenants/${tenantId}`, { key: a.apiKey })).status).toBe(202);
    expect((await rt.waitFor(tenantId, ["offboarded", "offboarding_failed"])).status).toBe("offboarded");
    const before = (await eventsOf(a.apiKey, tenantId, 100)).map((e) => e.data.sequence as number);
    expect(before).toEqual(oneToN(before.length));

    await onboardThroughLink(a.apiKey, tenantId, `a-${tenantId.slice(0, 8)}`);
    const after = (await eventsOf(a.apiKey, tenantId, 100)).map((e) => e.data.sequence as number);
    expect(after[0]).toBe(before.length + 1);
    expect(after).toEqual(after.map((_, i) => before.length + 1 + i));
  });
});
