/**
 * Corpora over the real HTTP front door of the local service:
 * - bad input: generated bad `POST /v1/tenants` requests are always a 4xx problem (the status
 *   the API contract gives each kind), never a 5xx, and change nothing;
 * - isolation: a partner naming another partner's tenant or delivery on any route gets
 *   exactly the 404 of an id that does not exist, changes nothing, and never sees the other's
 *   tenants in a list, whatever the filter or cursor.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../infra/local/runtime.ts";
import {
  type ApiClient,
  type ApiResponse,
  apiClient,
  type Json,
  rawRequest,
  waitUntil,
} from "./support/api.ts";
import { badRequest, goodBody } from "./support/bad-requests.ts";
import { type Receiver, startReceiver } from "./support/receiver.ts";
import { count, sized, TEST_TIMEOUT_MS } from "./support/scale.ts";
import { onboardingBody } from "./support/tenants.ts";

const RUNS = sized(200, 2_000);
const SEED = 424_242;
const PROBLEM = "application/problem+json";

let dataDir: string;
let runtime: LocalRuntime;
let api: ApiClient;
let receiver: Receiver;

interface Partner {
  name: string;
  partnerId: string;
  key: string;
  tenants: string[];
  deliveries: string[];
}
const partners: Partner[] = [];

/** Everything a partner can see, to show that a corpus changed nothing. */
async function visibleState(): Promise<string> {
  await runtime.webhooks.dispatcher.idle();
  const parts: unknown[] = [];
  for (const p of partners) {
    const tenants = await api.listAll("/v1/tenants", p.key);
    const events: unknown[] = [];
    for (const t of tenants)
      events.push((await api.listAll(`/v1/tenants/${t.tenantId}/events`, p.key)).length);
    const deliveries = (await api.listAll("/v1/webhook/deliveries", p.key)).map(
      (d: Json) => `${d.deliveryId} ${d.status} ${d.attempts}`,
    );
    parts.push({ tenants, events, deliveries });
  }
  return JSON.stringify({ parts, m365Calls: runtime.simulator!.calls().length });
}

beforeAll(async () => {
  process.env["POWERTOOLS_LOG_LEVEL"] ??= "ERROR";
  dataDir = await mkdtemp(join(tmpdir(), "corpora-"));
  receiver = await startReceiver();
  runtime = await startLocalRuntime({
    port: 0,
    dataDir,
    env: {
      WEBHOOK_RETRY_SCHEDULE: "",
      // The receiver is on loopback (a development setting), and the load is ours, not a partner's.
      WEBHOOK_ALLOW_LOOPBACK: "true",
      PARTNER_RATE_LIMIT_RPS: "10000",
      PARTNER_RATE_LIMIT_BURST: "10000",
    },
    retryScale: 0.001,
    logger: new Logger({ serviceName: "corpora", logLevel: "ERROR" }),
  });
  api = apiClient(runtime.url, runtime.opsApiKey);
  // Two partners, each with tenants in every final state a partner can act on, and deliveries.
  for (const name of ["alpha", "beta"]) {
    const { partnerId, apiKey } = await api.createPartner(name);
    const hook = await api.call("PUT", "/v1/webhook", { key: apiKey, body: { url: receiver.url } });
    expect(hook.status, hook.text).toBe(200);
    const tenants: string[] = [];
    for (let i = 0; i < 4; i++) {
      const body = onboardingBody(`corpora-${name}`, i);
      if (i === 3) {
        runtime.simulator!.failNext(body.tenantId, "New-JournalRule", {
          kind: "error",
          status: 400,
          message: "The journal rule quota is exhausted.",
        });
      }
      const res = await api.onboard({ partnerId, apiKey }, body);
      expect(res.status, res.text).toBe(202);
      tenants.push(body.tenantId);
    }
    partners.push({ name, partnerId, key: apiKey, tenants, deliveries: [] });
  }
  for (const p of partners) {
    for (const id of p.tenants) {
      await waitUntil(`${id} to end`, async () => {
        const t = await api.call("GET", `/v1/tenants/${id}`, { key: p.key });
        return ["succeeded", "failed"].includes(t.body.status) ? true : undefined;
      });
    }
  }
  await runtime.webhooks.dispatcher.idle();
  for (const p of partners) {
    p.deliveries = (await api.listAll("/v1/webhook/deliveries", p.key)).map((d: Json) => d.deliveryId);
    expect(p.deliveries.length, `${p.name} has deliveries`).toBeGreaterThan(0);
  }
});

afterAll(async () => {
  await runtime?.close({ graceMs: 1_000 });
  await receiver?.close();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function expectProblem(res: ApiResponse, status: number, what: string): void {
  const context = `${what}: ${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, context).toBe(status);
  expect(res.contentType, context).toBe(PROBLEM);
  expect(res.body?.status, context).toBe(status);
  expect(typeof res.body?.type, context).toBe("string");
  expect(typeof res.body?.title, context).toBe("string");
}

describe("bad input corpus", { timeout: TEST_TIMEOUT_MS }, () => {
  it("the generator's valid bodies are accepted (a control for the corpus)", async () => {
    const { apiKey } = await api.createPartner("control");
    for (const body of fc.sample(goodBody, { numRuns: 5, seed: SEED })) {
      const res = await api.call("POST", "/v1/tenants", { key: apiKey, body });
      expect(res.status, res.text).toBe(202);
    }
    await runtime.engine.idle();
  });

  it(`${count(RUNS)} bad POST /v1/tenants requests: 4xx problems, never a 5xx, never a change`, async () => {
    const partner = partners[0]!;
    const before = await visibleState();
    const byStatus = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(badRequest, async (bad) => {
        const headers: Record<string, string> = { authorization: `Bearer ${partner.key}` };
        if (bad.contentType !== undefined) headers["content-type"] = bad.contentType;
        const res = await rawRequest(runtime.url, "POST", "/v1/tenants", headers, bad.body);
        byStatus.set(res.status, (byStatus.get(res.status) ?? 0) + 1);
        expect(res.status, `${bad.what}: ${res.text.slice(0, 300)}`).toBeLessThan(500);
        expectProblem(res, bad.expected, bad.what);
        // A field problem names the field.
        if (bad.kind === "field") {
          expect(res.body.errors?.length, bad.what).toBeGreaterThan(0);
          for (const e of res.body.errors) expect(e.pointer, bad.what).toMatch(/^\/body/);
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    await runtime.engine.idle();
    expect(await visibleState()).toBe(before);
    const statuses = [...byStatus].sort(([a], [b]) => a - b);
    console.log(
      `corpora/bad input: ${count(RUNS)} bad requests (${statuses.map(([s, n]) => `${count(n)} ${s}`).join(", ")}), ` +
        "0 5xx, 0 state changes",
    );
  });
});

describe("isolation corpus", { timeout: TEST_TIMEOUT_MS }, () => {
  type Route =
    | "get"
    | "events"
    | "retry"
    | "delete"
    | "deliveries"
    | "replay"
    | "list"
    | "list-as"
    | "tenants-cursor"
    | "events-cursor"
    | "deliveries-cursor";

  /** The 404 of an id that does not exist, with the id written as {id}. */
  const normalise = (res: ApiResponse, id: string) => ({
    status: res.status,
    contentType: res.contentType,
    body: res.text.replaceAll(id, "{id}"),
  });

  it(`${count(RUNS)} cross-partner requests: the 404 of a missing id, no change, no leak`, async () => {
    const before = await visibleState();
    const sizes = partners
      .map((p) => `${p.tenants.length} tenants, ${p.deliveries.length} deliveries`)
      .join(" vs ");
    const absentTenant = "0badc0de-0000-4000-8000-000000000000";
    const absentDelivery = `dlv_${absentTenant}_1`;
    const notFound = {
      get: normalise(
        await api.call("GET", `/v1/tenants/${absentTenant}`, { key: partners[0]!.key }),
        absentTenant,
      ),
      events: normalise(
        await api.call("GET", `/v1/tenants/${absentTenant}/events`, { key: partners[0]!.key }),
        absentTenant,
      ),
      retry: normalise(
        await api.call("POST", `/v1/tenants/${absentTenant}/retry`, { key: partners[0]!.key }),
        absentTenant,
      ),
      delete: normalise(
        await api.call("DELETE", `/v1/tenants/${absentTenant}`, { key: partners[0]!.key }),
        absentTenant,
      ),
      replay: normalise(
        await api.call("POST", `/v1/webhook/deliveries/${absentDelivery}/replay`, { key: partners[0]!.key }),
        absentDelivery,
      ),
    };
    for (const res of Object.values(notFound)) expect(res.status).toBe(404);
    // Each partner's cursors (second pages of its tenants, its first tenant's events, its deliveries).
    const cursors = await Promise.all(
      partners.map(async (p) => {
        const next = async (path: string) => {
          const res = await api.call("GET", path, { key: p.key });
          expect(res.body.nextCursor, path).toBeTypeOf("string");
          return res.body.nextCursor as string;
        };
        return {
          tenants: await next("/v1/tenants?limit=1"),
          events: await next(`/v1/tenants/${p.tenants[0]}/events?limit=1`),
          deliveries: await next("/v1/webhook/deliveries?limit=1"),
        };
      }),
    );

    const routes: Route[] = [
      "get",
      "events",
      "retry",
      "delete",
      "deliveries",
      "replay",
      "list",
      "list-as",
      "tenants-cursor",
      "events-cursor",
      "deliveries-cursor",
    ];
    let crossRequests = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 1 }),
        fc.constantFrom(...routes),
        fc.nat(),
        fc.constantFrom(undefined, "succeeded", "failed", "queued"),
        async (caller, route, pick, status) => {
          const me = partners[caller]!;
          const other = partners[1 - caller]!;
          const key = me.key;
          const tenant = other.tenants[pick % other.tenants.length]!;
          const delivery = other.deliveries[pick % other.deliveries.length]!;
          const leaks = (items: Json[]) =>
            items.filter((t) => other.tenants.includes(t.tenantId) || t.partnerId === other.partnerId);
          crossRequests++;
          switch (route) {
            case "get":
            case "events":
            case "retry":
            case "delete": {
              const [method, suffix] = {
                get: ["GET", ""],
                events: ["GET", "/events"],
                retry: ["POST", "/retry"],
                delete: ["DELETE", ""],
              }[route];
              const res = await api.call(method!, `/v1/tenants/${tenant}${suffix}`, { key });
              expect(normalise(res, tenant), `${me.name} ${method} ${other.name}'s tenant${suffix}`).toEqual(
                notFound[route],
              );
              return;
            }
            case "replay": {
              const res = await api.call("POST", `/v1/webhook/deliveries/${delivery}/replay`, { key });
              expect(normalise(res, delivery), `${me.name} replays ${other.name}'s delivery`).toEqual(
                notFound.replay,
              );
              return;
            }
            case "deliveries": {
              const res = await api.call("GET", `/v1/webhook/deliveries?tenantId=${tenant}`, { key });
              expect(res.status).toBe(200);
              expect(res.body.items).toEqual([]);
              return;
            }
            case "list":
            case "list-as": {
              const query = new URLSearchParams({
                limit: String(1 + (pick % 100)),
                ...(status && { status }),
                ...(route === "list-as" && { partnerId: other.partnerId }),
              });
              const res = await api.call("GET", `/v1/tenants?${query}`, { key });
              if (res.status === 200) expect(leaks(res.body.items)).toEqual([]);
              else expectProblem(res, res.status, `list ${query}`);
              expect(res.status).toBeLessThan(500);
              return;
            }
            case "tenants-cursor":
            case "events-cursor":
            case "deliveries-cursor": {
              // The other partner's cursor on my own list: refused, or a page of mine only.
              const cursor = encodeURIComponent(
                cursors[1 - caller]![route.replace("-cursor", "") as "tenants"],
              );
              const path = {
                "tenants-cursor": "/v1/tenants",
                "events-cursor": `/v1/tenants/${me.tenants[pick % me.tenants.length]}/events`,
                "deliveries-cursor": "/v1/webhook/deliveries",
              }[route];
              const res = await api.call("GET", `${path}?limit=100&cursor=${cursor}`, { key });
              if (res.status === 200) {
                const items: Json[] = res.body.items;
                expect(
                  leaks(
                    items.map((i) => ({ tenantId: i.tenantId ?? i.data?.tenantId, partnerId: i.partnerId })),
                  ),
                  route,
                ).toEqual([]);
                if (route === "events-cursor") {
                  for (const e of items) expect(e.data.tenantId, route).toBe(path.split("/")[3]);
                }
              } else expectProblem(res, 400, `${route} of another partner`);
              return;
            }
          }
        },
      ),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );

    // Controls: the owners see what the others cannot, and ops sees both.
    for (const p of partners) {
      for (const id of p.tenants)
        expect((await api.call("GET", `/v1/tenants/${id}`, { key: p.key })).status).toBe(200);
      const listed = (await api.listAll("/v1/tenants", p.key)).map((t) => t.tenantId);
      expect(listed.sort()).toEqual([...p.tenants].sort());
    }
    const all = (await api.listAll("/v1/tenants", runtime.opsApiKey)).map((t) => t.tenantId);
    for (const p of partners) expect(all).toEqual(expect.arrayContaining(p.tenants));

    // The same Idempotency-Key and body from two partners: two records (an unbound claim reserves
    // nothing, so the second partner gets its own claim on the tenant), never the other's response.
    const shared = "corpus-shared-key";
    const mine = onboardingBody("corpora-idem", 0);
    const first = await api.call("POST", "/v1/tenants", {
      key: partners[0]!.key,
      body: mine,
      headers: { "idempotency-key": shared },
    });
    expect(first.status, first.text).toBe(202);
    const second = await api.call("POST", "/v1/tenants", {
      key: partners[1]!.key,
      body: mine,
      headers: { "idempotency-key": shared },
    });
    expect(second.status, second.text).toBe(202);
    expect(second.body.partnerId).toBe(partners[1]!.partnerId);
    expect(second.body.consentUrl).not.toBe(first.body.consentUrl);
    expect(second.text).not.toContain(partners[0]!.partnerId);
    expect(second.text).not.toContain(partners[0]!.name);
    const theirs = onboardingBody("corpora-idem", 1);
    const third = await api.call("POST", "/v1/tenants", {
      key: partners[1]!.key,
      body: theirs,
      headers: { "idempotency-key": `${shared}-2` },
    });
    expect(third.status, third.text).toBe(202);
    expect(third.body.tenantId).toBe(theirs.tenantId);
    expect(third.body.partnerId).toBe(partners[1]!.partnerId);
    await runtime.engine.idle();
    partners[0]!.tenants.push(mine.tenantId);
    partners[1]!.tenants.push(mine.tenantId, theirs.tenantId);

    // Nothing the corpus did changed a thing (the idempotency controls aside).
    const after = JSON.parse(await visibleState());
    const expected = JSON.parse(before);
    expect(stripTenants(after, [mine.tenantId, theirs.tenantId])).toEqual(expected.parts);
    console.log(
      `corpora/isolation: ${count(crossRequests)} cross-partner requests on ${routes.length} routes ` +
        `(${sizes}), ` +
        "0 leaks, 0 changes, every 404 identical to a missing id's",
    );
  });
});

/** The visible state without the given tenants (and their events and deliveries). */
function stripTenants(state: Json, tenantIds: string[]): Json {
  return state.parts.map((part: Json) => {
    const keep = part.tenants.map((t: Json) => !tenantIds.includes(t.tenantId));
    return {
      tenants: part.tenants.filter((_: Json, i: number) => keep[i]),
      events: part.events.filter((_: Json, i: number) => keep[i]),
      deliveries: part.deliveries.filter((d: string) => !tenantIds.some((id) => d.includes(id))),
    };
  });
}
