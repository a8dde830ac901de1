// Where deliveries may go (SSRF rules, checked on save and before every attempt, address
// pinned), how a single request behaves (timeout, redirects), and the retry schedule. The
// service's own case runs on either form (test/support/form.ts); the rest needs no form.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoWebhookStore } from "../functions/adapters/dynamodb/webhook-store.ts";
import { parseRetryAfter } from "../functions/commons/http.ts";
import { InvalidWebhookUrlError } from "../functions/domain/errors.ts";
import { WebhookDeliverer } from "../functions/webhooks/delivery.ts";
import { webhookServiceFromEnv } from "../functions/webhooks/index.ts";
import {
  DEFAULT_RETRY_SCHEDULE_MS,
  MAX_RETRY_DELAY_MS,
  nextRetryDelay,
  parseRetrySchedule,
  retryScheduleFromEnv,
} from "../functions/webhooks/schedule.ts";
import { PartnerWebhookService } from "../functions/webhooks/service.ts";
import { type HostResolver, isAllowedAddress, validateWebhookUrl } from "../functions/webhooks/url-policy.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";
import { form, startForm } from "./support/form.ts";
import { startedTenant } from "./support/started-tenant.ts";

/** DNS answers this offline machine cannot get from a real resolver (public addresses). */
const answering =
  (...addresses: string[]): HostResolver =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
const PUBLIC_V4 = "93.184.216.34";
const PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946";

describe("addresses", () => {
  it.each([
    ["127.0.0.1", false, true],
    ["127.8.9.10", false, true],
    ["::1", false, true],
    ["::ffff:127.0.0.1", false, true],
    ["::ffff:7f00:1", false, true],
    ["::127.0.0.1", false, true],
    ["::10.0.0.1", false, false],
    ["10.1.2.3", false, false],
    ["172.16.0.1", false, false],
    ["192.168.1.1", false, false],
    ["100.64.0.1", false, false],
    ["169.254.169.254", false, false],
    ["::ffff:169.254.169.254", false, false],
    ["0.0.0.0", false, false],
    ["::", false, false],
    ["fd00::1", false, false],
    ["fe80::1", false, false],
    ["ff02::1", false, false],
    ["224.0.0.1", false, false],
    ["255.255.255.255", false, false],
    ["64:ff9b::a9fe:a9fe", false, false],
    ["2002:a9fe:a9fe::1", false, false],
    // IPv4-translated (::ffff:0:a.b.c.d), NAT64, 6to4 and Teredo forms of private/loopback IPv4.
    ["::ffff:0:127.0.0.1", false, true],
    ["::ffff:0:7f00:1", false, true],
    ["::ffff:0:10.0.0.1", false, false],
    ["::ffff:0:169.254.169.254", false, false],
    ["64:ff9b::10.0.0.1", false, false],
    ["64:ff9b::7f00:1", false, true],
    ["2002:7f00:1::1", false, true],
    ["2002:c0a8:101::1", false, false],
    ["2001:0:a00:1::1", false, false], // Teredo server 10.0.0.1
    ["2001:0:5db8:d822::f5ff:fffe", false, false], // Teredo client 10.0.0.1 (inverted)
    ["2001:0:5db8:d822::80ff:fffe", false, true], // Teredo client 127.0.0.1 (inverted)
    ["2001:0:5db8:d822::a247:27dd", true, true], // Teredo, both public
    [PUBLIC_V4, true, true],
    [PUBLIC_V6, true, true],
    ["not-an-ip", false, false],
  ])("%s: allowed in AWS %s, locally %s", (address, inAws, locally) => {
    expect(isAllowedAddress(address)).toBe(inAws);
    expect(isAllowedAddress(address, { allowInsecureLoopback: true })).toBe(locally);
  });
});

describe("the service's own ports and loopback", () => {
  const local = { allowInsecureLoopback: true, refusedLoopbackPorts: () => [3000, 4443] };

  it("refuses the API's and the simulator's ports on loopback, other loopback ports only when allowed", async () => {
    await expect(validateWebhookUrl("http://127.0.0.1:3000/v1/partners", local)).rejects.toThrow(
      /this service itself \(port 3000\)/,
    );
    await expect(validateWebhookUrl("https://127.0.0.1:4443/", local)).rejects.toThrow(/port 4443/);
    await expect(
      validateWebhookUrl("http://localhost:3000/hooks", { ...local, resolve: answering("::1") }),
    ).rejects.toThrow(/port 3000/);
    await expect(validateWebhookUrl("http://[::ffff:0:127.0.0.1]:3000/", local)).rejects.toThrow(/port 3000/);
    await expect(validateWebhookUrl("http://127.0.0.1:9000/hooks", local)).resolves.toBe(
      "http://127.0.0.1:9000/hooks",
    );
    // Without the development setting, loopback is refused like any non-public address.
    await expect(validateWebhookUrl("https://127.0.0.1:9000/hooks")).rejects.toThrow(/not a public address/);
    await expect(validateWebhookUrl("https://[::ffff:0:7f00:1]:9000/hooks")).rejects.toThrow(
      /not a public address/,
    );
  });

  it("the API function in AWS refuses http without naming a setting; on one machine (the form's own ports given) it names it", async () => {
    const refusal = async (env: NodeJS.ProcessEnv, url = "http://127.0.0.1:9000/hooks") => {
      const service = webhookServiceFromEnv({
        // Never reached: the URL is refused before anything is read or written.
        docClient: {} as DynamoDBDocumentClient,
        env: { TABLE_NAME: "t", WEBHOOK_QUEUE_URL: "http://127.0.0.1:9/q", ...env },
      });
      const error = await service.putEndpoint("p_1", { url }, new Date().toISOString()).catch((e) => e);
      expect(error).toBeInstanceOf(InvalidWebhookUrlError);
      return (error as Error).message;
    };
    expect(await refusal({})).toBe("The URL must use https.");
    expect(await refusal({ WEBHOOK_OWN_PORTS: "3000" })).toContain("WEBHOOK_ALLOW_LOOPBACK=true");
    expect(
      await refusal({ WEBHOOK_ALLOW_LOOPBACK: "true", WEBHOOK_OWN_PORTS: "3000" }, "http://127.0.0.1:3000/"),
    ).toMatch(/this service itself/);
  });

  it("the service allows loopback receivers only with WEBHOOK_ALLOW_LOOPBACK=true, never its own port", async () => {
    const strict = await startForm({ env: { WEBHOOK_ALLOW_LOOPBACK: "false" } });
    try {
      const partner = await strict.createPartner("Strict");
      const put = await strict.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: "http://127.0.0.1:9000/hooks" },
      });
      expect(put.status).toBe(400);
      // The refusal names the setting that allows it (the README's step 5 needs it).
      expect(JSON.stringify(put.body)).toContain("WEBHOOK_ALLOW_LOOPBACK=true");
      const loopback = await strict.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: "https://127.0.0.1:9000/hooks" },
      });
      expect(loopback.status).toBe(400);
      expect(JSON.stringify(loopback.body)).toContain("WEBHOOK_ALLOW_LOOPBACK=true");
    } finally {
      await strict.close();
    }
    const dev = await startForm();
    try {
      const partner = await dev.createPartner("Dev");
      const ok = await dev.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: "http://127.0.0.1:9000/hooks" },
      });
      expect(ok.status).toBe(200);
      const own = await dev.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: `${dev.url}/v1/partners` },
      });
      expect(own.status).toBe(400);
      expect(JSON.stringify(own.body)).toContain("this service itself");
      const sim = await dev.call("PUT", "/v1/webhook", {
        key: partner.apiKey,
        body: { url: `${dev.simulator.url}/token` },
      });
      expect(sim.status).toBe(400);
    } finally {
      await dev.close();
    }
  });
});

describe("URL validation", () => {
  const strict = { resolve: answering(PUBLIC_V4) };

  it("accepts an https URL whose host resolves to public addresses only", async () => {
    await expect(validateWebhookUrl("https://hooks.partner.example/in?x=1", strict)).resolves.toBe(
      "https://hooks.partner.example/in?x=1",
    );
    await expect(validateWebhookUrl(`https://[${PUBLIC_V6}]/in`)).resolves.toBe(`https://[${PUBLIC_V6}]/in`);
  });

  it.each([
    ["http://hooks.partner.example/in", /must use https/],
    ["ftp://hooks.partner.example/in", /must use https/],
    ["https://127.0.0.1/in", /127\.0\.0\.1.*not a public address/],
    ["https://2130706433/in", /not a public address/],
    ["https://10.0.0.5/in", /not a public address/],
    ["https://169.254.169.254/latest/meta-data", /not a public address/],
    ["https://[::1]/in", /not a public address/],
    ["https://[::ffff:127.0.0.1]/in", /not a public address/],
    ["https://[fd12::1]/in", /not a public address/],
    ["https://user:pass@hooks.partner.example/in", /credentials/],
    ["https://hooks.partner.example/in#frag", /fragment/],
    ["not a url", /valid absolute URL/],
    [`https://hooks.partner.example/${"a".repeat(2100)}`, /longer than/],
  ])("refuses %s in AWS", async (url, reason) => {
    const error = await validateWebhookUrl(url, strict).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidWebhookUrlError);
    expect((error as Error).message).toMatch(reason);
  });

  it("refuses a name that resolves to a private address, even mixed with a public one", async () => {
    await expect(
      validateWebhookUrl("https://rebind.example/in", { resolve: answering(PUBLIC_V4, "10.0.0.1") }),
    ).rejects.toThrow(/10\.0\.0\.1/);
    // The real resolver: localhost is loopback.
    await expect(validateWebhookUrl("https://localhost/in")).rejects.toThrow(/not a public address/);
  });

  it("refuses a name that does not resolve; lets a DNS outage through (checked again at send time)", async () => {
    const notFound: HostResolver = async () => {
      throw Object.assign(new Error("not found"), { code: "ENOTFOUND" });
    };
    const outage: HostResolver = async () => {
      throw Object.assign(new Error("timeout"), { code: "ETIMEOUT" });
    };
    await expect(validateWebhookUrl("https://gone.example/in", { resolve: notFound })).rejects.toThrow(
      /does not resolve/,
    );
    await expect(validateWebhookUrl("https://slow.example/in", { resolve: outage })).resolves.toBe(
      "https://slow.example/in",
    );
  });

  it("locally allows http and loopback, never private or link-local addresses", async () => {
    const local = { allowInsecureLoopback: true };
    await expect(validateWebhookUrl("http://127.0.0.1:8080/in", local)).resolves.toBe(
      "http://127.0.0.1:8080/in",
    );
    await expect(validateWebhookUrl("http://localhost:8080/in", local)).resolves.toBe(
      "http://localhost:8080/in",
    );
    await expect(validateWebhookUrl("http://169.254.169.254/", local)).rejects.toBeInstanceOf(
      InvalidWebhookUrlError,
    );
    await expect(validateWebhookUrl("http://192.168.0.10/", local)).rejects.toBeInstanceOf(
      InvalidWebhookUrlError,
    );
  });
});

// The deliverer on its own against the run's dynalite, which only `npm test` starts (no form in it).
describe.skipIf(form === "aws")("sending", () => {
  let db: FreshTable;
  let webhookStore: DynamoWebhookStore;
  let server: Server;
  let port = 0;
  const hits: { path: string; headers: IncomingHttpHeaders }[] = [];

  beforeAll(async () => {
    db = await freshTable();
    webhookStore = new DynamoWebhookStore({ client: db.docClient, tableName: db.tableName });
    server = createServer((req, res) => {
      hits.push({ path: req.url ?? "", headers: req.headers });
      req.resume();
      if (req.url === "/redirect")
        res.writeHead(307, { location: `http://127.0.0.1:${port}/elsewhere` }).end();
      else if (req.url === "/slow") setTimeout(() => res.writeHead(200).end(), 5_000).unref();
      else res.writeHead(200).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  /** A partner with an endpoint at `path` and one stored event; returns the deliverer's view of it. */
  async function oneDelivery(
    path: string,
    options: {
      saveWith: HostResolver;
      sendWith: HostResolver;
      host?: string;
      strict?: boolean;
      sendStrict?: boolean;
    },
  ) {
    const partnerId = `p_${randomUUID().slice(0, 8)}`;
    const host = options.host ?? "127.0.0.1";
    const scheme = options.strict ? "https" : "http";
    const webhooks = new PartnerWebhookService({
      webhookStore,
      replays: { queueReplay: async () => {} },
      allowInsecureLoopback: !options.strict,
      resolve: options.saveWith,
    });
    await webhooks.putEndpoint(
      partnerId,
      { url: `${scheme}://${host}:${port}${path}` },
      new Date().toISOString(),
    );
    const { tenantId, event } = await startedTenant(db.store, partnerId);
    const deliverer = new WebhookDeliverer({
      webhookStore,
      allowInsecureLoopback: !(options.sendStrict ?? options.strict),
      resolve: options.sendWith,
      retrySchedule: [],
      timeoutMs: 300,
    });
    await deliverer.admit(event, partnerId);
    const outcome = await deliverer.attempt(tenantId, 1);
    return outcome.delivery!;
  }

  it("connects to the address it checked, with the URL's host name (pinned, no second lookup)", async () => {
    const before = hits.length;
    const delivery = await oneDelivery("/pinned", {
      host: "hooks.partner.test",
      saveWith: answering("127.0.0.1"),
      sendWith: answering("127.0.0.1"),
    });
    expect(delivery.status).toBe("succeeded");
    expect(hits.slice(before)).toEqual([expect.objectContaining({ path: "/pinned" })]);
    expect(hits.at(-1)!.headers.host).toBe(`hooks.partner.test:${port}`);
  });

  it("refuses at send time a name that now resolves to a private address (DNS rebinding)", async () => {
    const before = hits.length;
    const delivery = await oneDelivery("/rebound", {
      host: "hooks.partner.example",
      strict: true,
      saveWith: answering(PUBLIC_V4),
      sendWith: answering("127.0.0.1"),
    });
    expect(delivery).toMatchObject({
      status: "failed",
      attempts: 1,
      error: { code: "WEBHOOK_ADDRESS_REFUSED" },
    });
    expect(delivery.attemptLog[0]!.error!.message).toMatch(/127\.0\.0\.1/);
    expect(hits).toHaveLength(before);
  });

  it("checks the scheme again at send time (an http URL saved locally is not sent in AWS)", async () => {
    const before = hits.length;
    const delivery = await oneDelivery("/plain", {
      saveWith: answering("127.0.0.1"),
      sendWith: answering("127.0.0.1"),
      sendStrict: true,
    });
    expect(delivery).toMatchObject({ status: "failed", error: { code: "WEBHOOK_ADDRESS_REFUSED" } });
    expect(delivery.error!.message).toMatch(/https/);
    expect(hits).toHaveLength(before);
  });

  it("does not follow redirects", async () => {
    const before = hits.length;
    const delivery = await oneDelivery("/redirect", {
      saveWith: answering("127.0.0.1"),
      sendWith: answering("127.0.0.1"),
    });
    expect(delivery).toMatchObject({
      status: "failed",
      lastResponseStatus: 307,
      error: { code: "WEBHOOK_HTTP_ERROR" },
    });
    expect(delivery.error!.message).toMatch(/redirects are not followed/);
    expect(hits.slice(before).map((h) => h.path)).toEqual(["/redirect"]);
  });

  it("gives up on an endpoint that does not answer in time", async () => {
    const delivery = await oneDelivery("/slow", {
      saveWith: answering("127.0.0.1"),
      sendWith: answering("127.0.0.1"),
    });
    expect(delivery).toMatchObject({ status: "failed", error: { code: "WEBHOOK_TIMEOUT" } });
    expect(delivery.lastResponseStatus).toBeUndefined();
  });
});

describe("retry schedule", () => {
  it("defaults to the Standard Webhooks example: 5s, 5m, 30m, 2h, 5h, 10h, 10h after an immediate try", () => {
    expect(DEFAULT_RETRY_SCHEDULE_MS).toEqual(parseRetrySchedule("5s,5m,30m,2h,5h,10h,10h"));
    expect(retryScheduleFromEnv({})).toBe(DEFAULT_RETRY_SCHEDULE_MS);
    expect(retryScheduleFromEnv({ WEBHOOK_RETRY_SCHEDULE: "5s,5m,30m" })).toEqual([
      5_000, 300_000, 1_800_000,
    ]);
    expect(retryScheduleFromEnv({ WEBHOOK_RETRY_SCHEDULE: "" })).toEqual([]);
    expect(parseRetrySchedule("250ms, 1.5s, 2")).toEqual([250, 1_500, 2_000]);
  });

  it.each(["5x", "5s,,5m", "-1s", "12h"])("refuses %s", (text) => {
    expect(() => parseRetrySchedule(text)).toThrow(RangeError);
  });

  it("jitters each delay by at most 20%, stops after the schedule, and lets Retry-After lengthen a wait", () => {
    const schedule = [10_000, 60_000];
    expect(nextRetryDelay(schedule, 1, { random: () => 0 })).toBe(8_000);
    expect(nextRetryDelay(schedule, 1, { random: () => 0.999999 })).toBe(12_000);
    expect(nextRetryDelay(schedule, 2, { random: () => 0.5 })).toBe(60_000);
    expect(nextRetryDelay(schedule, 3)).toBeUndefined();
    expect(nextRetryDelay(schedule, 1, { random: () => 0.5, retryAfterMs: 30_000 })).toBe(30_000);
    expect(nextRetryDelay(schedule, 2, { random: () => 0.5, retryAfterMs: 1_000 })).toBe(60_000);
    expect(nextRetryDelay(schedule, 1, { retryAfterMs: 48 * 3_600_000 })).toBe(MAX_RETRY_DELAY_MS);
  });

  it("reads Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:01:00 GMT", now)).toBe(60_000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 00:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});
