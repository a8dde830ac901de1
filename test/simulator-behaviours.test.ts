/**
 * Exchange's real-world behaviours over time, each switched on through `configure()` or the
 * remote control (`POST /_sim/configure`), over HTTPS: replication lag, slow cmdlets, the
 * per-tenant concurrency limit, transient directory errors, `@adminapi.errors`, and faults.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { connectSimulator, type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { errorText, errorType, exoClient, failure } from "./support/exo.ts";

let sim: Simulator;
const { exo } = exoClient(() => sim);

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim?.close();
});
afterEach(() => {
  sim.configure({
    latencyMs: 0,
    replicationLagMs: 0,
    replicationLagCalls: 0,
    replicationLagCmdlets: ["Validate-OutboundConnector"],
    slowCmdlets: {},
    maxConcurrentPerTenant: 0,
    directoryErrorRate: 0,
    adminApiErrorRate: 0,
    identityMissReturnsAll: false,
  });
});

const NOT_FOUND = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const connector = {
  Name: "Journal to Area 1",
  ConnectorType: "Partner",
  RecipientDomains: ["journaling.mxrecord.io"],
  SmartHosts: ["mailstream-east.mxrecord.io"],
  UseMXRecord: false,
  TlsSettings: "CertificateValidation",
};
const validate = (tenantId: string) =>
  exo(tenantId, "Validate-OutboundConnector", {
    Identity: connector.Name,
    Recipients: ["probe@journaling.mxrecord.io"],
  });

describe("defaults", () => {
  it("every behaviour is off by default, ndrClearing is while-no-rules", async () => {
    const fresh = await startSimulator({ trust: false });
    try {
      expect(fresh.config()).toMatchObject({
        replicationLagMs: 0,
        replicationLagCalls: 0,
        replicationLagCmdlets: ["Validate-OutboundConnector"],
        slowCmdlets: {},
        maxConcurrentPerTenant: 0,
        directoryErrorRate: 0,
        adminApiErrorRate: 0,
        ndrClearing: "while-no-rules",
        identityMissReturnsAll: false,
        hydrationDelayMs: 0,
        maxJournalRules: 50,
        validation: { lag: 0, fail: false, refuseHosts: [] },
      });
    } finally {
      await fresh.close();
    }
  });
});

describe("replication lag", () => {
  it("replicationLagMs: Validate-OutboundConnector does not find a new connector until the lag passes; Get does", async () => {
    const tenantId = randomUUID();
    // A lag of 1 s: the reads before it must land within it, even on a loaded machine.
    sim.configure({ replicationLagMs: 1_000 });
    expect((await exo(tenantId, "New-OutboundConnector", connector)).status).toBe(200);
    expect(failure(await validate(tenantId))).toEqual([404, NOT_FOUND]);
    expect((await exo(tenantId, "Get-OutboundConnector", { Identity: connector.Name })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_020));
    expect((await validate(tenantId)).status).toBe(200);
  });

  it("replicationLagCmdlets: Get-OutboundConnector can lag too, for the identity and in the list", async () => {
    const tenantId = randomUUID();
    sim.configure({
      replicationLagMs: 1_000,
      replicationLagCmdlets: ["Validate-OutboundConnector", "Get-OutboundConnector"],
    });
    await exo(tenantId, "New-OutboundConnector", connector);
    expect(failure(await exo(tenantId, "Get-OutboundConnector", { Identity: connector.Name }))).toEqual([
      404,
      NOT_FOUND,
    ]);
    expect((await exo(tenantId, "Get-OutboundConnector")).body.value).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_020));
    expect((await exo(tenantId, "Get-OutboundConnector")).body.value).toHaveLength(1);
  });

  it("replicationLagCalls: the first N calls about the new connector answer not found", async () => {
    const tenantId = randomUUID();
    sim.configure({ replicationLagCalls: 2 });
    await exo(tenantId, "New-OutboundConnector", connector);
    expect(failure(await validate(tenantId))).toEqual([404, NOT_FOUND]);
    expect(failure(await validate(tenantId))).toEqual([404, NOT_FOUND]);
    expect((await validate(tenantId)).status).toBe(200);
  });
});

describe("slow cmdlets", () => {
  it("slowCmdlets: the named cmdlet answers after its delay, others at once", async () => {
    const tenantId = randomUUID();
    // 1 s against a bound of 800 ms for "at once": a loaded machine's round trip stays far below.
    sim.configure({ slowCmdlets: { "Get-TransportConfig": 1_000 } });
    await exo(tenantId, "Get-OrganizationConfig"); // token and tenant warm
    let started = performance.now();
    expect((await exo(tenantId, "Get-TransportConfig")).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(990);
    started = performance.now();
    await exo(tenantId, "Get-OrganizationConfig");
    expect(performance.now() - started).toBeLessThan(800);
  });
});

describe("concurrency per tenant", () => {
  it("maxConcurrentPerTenant: beyond N requests in flight for one tenant, 429 with Retry-After; other tenants unaffected", async () => {
    const tenantId = randomUUID();
    const other = randomUUID();
    await exo(tenantId, "Get-OrganizationConfig");
    await exo(other, "Get-OrganizationConfig");
    // Each answer takes 1.5 s: the four requests, sent at once, all arrive while the first two are in
    // flight, even when a loaded machine spreads their TLS handshakes over hundreds of ms.
    sim.configure({
      maxConcurrentPerTenant: 2,
      slowCmdlets: { "Get-TransportConfig": 1_500 },
      latencyMs: 20,
    });
    const answers = await Promise.all([
      exo(tenantId, "Get-TransportConfig"),
      exo(tenantId, "Get-TransportConfig"),
      exo(tenantId, "Get-TransportConfig"),
      exo(tenantId, "Get-TransportConfig"),
      exo(other, "Get-TransportConfig"),
      exo(other, "Get-TransportConfig"),
    ]);
    const mine = answers.slice(0, 4);
    expect(mine.map((a) => a.status).sort()).toEqual([200, 200, 429, 429]);
    const refused = mine.find((a) => a.status === 429)!;
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(errorText(refused)).toBe(
      "The maximum number of concurrent requests per tenant (2) has been exceeded. Wait for a request to complete and try again.",
    );
    expect(refused.body.error?.message).toMatch(/maximum number of concurrent requests per tenant/);
    expect(answers.slice(4).map((a) => a.status)).toEqual([200, 200]);
    // Every slot was given back, even those of refused and slow requests.
    const again = await Promise.all([
      exo(tenantId, "Get-TransportConfig"),
      exo(tenantId, "Get-TransportConfig"),
    ]);
    expect(again.map((a) => a.status)).toEqual([200, 200]);
    expect(sim.calls(tenantId).filter((c) => c.fault === "concurrency-limit")).toHaveLength(2);
  });

  it("counts a request in flight through an injected delay and a dropped connection", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "Get-OrganizationConfig");
    sim.configure({ maxConcurrentPerTenant: 1 });
    sim.failNext(tenantId, "Get-TransportConfig", { kind: "delay", ms: 1_000 });
    const slow = exo(tenantId, "Get-TransportConfig");
    // Once the simulator holds it in its delay (a fixed 60 ms could end before its TLS handshake did
    // on a loaded machine: the second request then counted first); then 1 s to send the second.
    const held = () =>
      sim.calls(tenantId).some((c) => c.operation === "Get-TransportConfig" && c.fault === "delay");
    for (let i = 0; i < 1_000 && !held(); i++) await new Promise((r) => setTimeout(r, 5));
    expect(held()).toBe(true);
    expect((await exo(tenantId, "Get-OrganizationConfig")).status).toBe(429);
    expect((await slow).status).toBe(200);
    sim.failNext(tenantId, "Get-TransportConfig", "drop");
    await expect(exo(tenantId, "Get-TransportConfig")).rejects.toThrow();
    expect((await exo(tenantId, "Get-OrganizationConfig")).status).toBe(200);
  });
});

describe("transient directory errors", () => {
  const TYPES = [
    "Microsoft.Exchange.Data.Directory.DCOverloadedException",
    "Microsoft.Exchange.Data.Directory.SuitabilityDirectoryException",
    "Microsoft.Exchange.Data.Directory.ServerInMMException",
    "Microsoft.Exchange.Data.Directory.ADServerSettingsChangedException",
    "Microsoft.Exchange.Data.Storage.StorageTransientException",
  ];

  it("directoryErrorRate: answered before the cmdlet runs, 400 or 500, one of the module's transient exceptions, from the seed", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "Get-OrganizationConfig");
    const run = async () => {
      sim.configure({ seed: 7, directoryErrorRate: 1 });
      const seen: [number, string | undefined][] = [];
      for (let i = 0; i < 12; i++) {
        const a = await exo(tenantId, "Set-TransportConfig", {
          JournalingReportNdrTo: sim.demo(tenantId).admin,
        });
        seen.push([a.status, errorType(a)]);
      }
      return seen;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    for (const [status, type] of first) {
      expect([400, 500]).toContain(status);
      expect(TYPES).toContain(type);
    }
    expect(new Set(first.map(([s]) => s)).size).toBe(2);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBeNull();
    expect(sim.calls(tenantId).at(-1)).toMatchObject({ fault: "directory-error" });
  });

  it("a share of calls: some answer, some fail", async () => {
    const tenantId = randomUUID();
    await exo(tenantId, "Get-OrganizationConfig");
    sim.configure({ seed: 3, directoryErrorRate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 20; i++) statuses.push((await exo(tenantId, "Get-TransportConfig")).status);
    expect(statuses).toContain(200);
    expect(statuses.some((s) => s >= 400)).toBe(true);
  });
});

describe("@adminapi.errors", () => {
  it("failNext adminapi-errors: 200 with a non-empty @adminapi.errors (and @adminapi.warnings); the cmdlet did not run", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "Set-TransportConfig", "adminapi-errors");
    const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: sim.demo(tenantId).admin });
    expect(a.status).toBe(200);
    expect(a.body["@adminapi.errors"]?.length).toBeGreaterThan(0);
    expect(a.body["@adminapi.warnings"]).toEqual([]);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBeNull();
    expect(sim.calls(tenantId).at(-1)).toMatchObject({ status: 200, fault: "adminapi-errors" });
    const clean = await exo(tenantId, "Get-TransportConfig");
    expect(clean.body["@adminapi.errors"]).toBeUndefined();
    expect(clean.body["@adminapi.warnings"]).toEqual([]);
  });

  it("afterApplying and custom errors: the write happened, the answer still carries the errors", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "Set-TransportConfig", {
      kind: "adminapi-errors",
      errors: ["partial failure"],
      afterApplying: true,
    });
    const a = await exo(tenantId, "Set-TransportConfig", { JournalingReportNdrTo: sim.demo(tenantId).admin });
    expect(a.body["@adminapi.errors"]).toEqual(["partial failure"]);
    expect(sim.tenant(tenantId).journalingReportNdrTo).toBe(sim.demo(tenantId).admin);
  });

  it("adminApiErrorRate: a share of calls carries @adminapi.errors", async () => {
    const tenantId = randomUUID();
    sim.configure({ adminApiErrorRate: 1 });
    const a = await exo(tenantId, "Get-TransportConfig");
    expect([a.status, a.body["@adminapi.errors"]?.length]).toEqual([200, 1]);
  });
});

describe("faults kept", () => {
  it("a 401 on Exchange (expired token) through failNext", async () => {
    const tenantId = randomUUID();
    sim.failNext(tenantId, "Get-TransportConfig", {
      kind: "error",
      status: 401,
      message: "Lifetime validation failed, the token is expired.",
    });
    const a = await exo(tenantId, "Get-TransportConfig");
    expect([a.status, errorText(a)]).toEqual([401, "Lifetime validation failed, the token is expired."]);
  });
});

describe("remote control", () => {
  it("switches every behaviour through POST /_sim/configure and reads them back", async () => {
    const remote = connectSimulator(sim.url);
    await remote.configure({
      replicationLagMs: 5,
      replicationLagCalls: 1,
      replicationLagCmdlets: ["Get-OutboundConnector"],
      slowCmdlets: { "Validate-OutboundConnector": 10 },
      maxConcurrentPerTenant: 4,
      directoryErrorRate: 0.25,
      adminApiErrorRate: 0.5,
      ndrClearing: "never",
      hydrationDelayMs: 100,
      maxJournalRules: 10,
      validation: { refuseHosts: ["smtp.example"] },
    });
    try {
      expect(await remote.config()).toMatchObject({
        replicationLagMs: 5,
        replicationLagCalls: 1,
        replicationLagCmdlets: ["Get-OutboundConnector"],
        slowCmdlets: { "validate-outboundconnector": 10 },
        maxConcurrentPerTenant: 4,
        directoryErrorRate: 0.25,
        adminApiErrorRate: 0.5,
        ndrClearing: "never",
        hydrationDelayMs: 100,
        maxJournalRules: 10,
        validation: { refuseHosts: ["smtp.example"] },
      });
      await expect(remote.configure({ ndrClearing: "sometimes" as "never" })).rejects.toThrow(/ndrClearing/);
      await expect(remote.configure({ directoryErrorRate: 2, latencyMs: 50 })).rejects.toThrow(
        /between 0 and 1/,
      );
      // A refused configuration changes nothing.
      expect((await remote.config()).latencyMs).toBe(0);
    } finally {
      await remote.configure({
        ndrClearing: "while-no-rules",
        hydrationDelayMs: 0,
        maxJournalRules: 50,
        validation: { refuseHosts: [] },
      });
    }
  });
});

describe("identity that matches nothing", () => {
  it("identityMissReturnsAll: Get- cmdlets answer every object for an unknown -Identity; off, ManagementObjectNotFoundException", async () => {
    const tenantId = randomUUID();
    expect((await exo(tenantId, "New-OutboundConnector", connector)).status).toBe(200);
    const unknown = { Identity: "No such object" };
    for (const cmdlet of [
      "Get-OutboundConnector",
      "Get-JournalRule",
      "Get-DistributionGroup",
      "Get-Recipient",
    ]) {
      expect(failure(await exo(tenantId, cmdlet, unknown)), cmdlet).toEqual([404, NOT_FOUND]);
    }
    sim.configure({ identityMissReturnsAll: true });
    const connectors = await exo(tenantId, "Get-OutboundConnector", unknown);
    expect(connectors.status).toBe(200);
    expect((connectors.body.value ?? []).map((r) => r["Name"])).toEqual([connector.Name]);
    const groups = await exo(tenantId, "Get-DistributionGroup", unknown);
    expect((groups.body.value ?? []).length).toBeGreaterThan(0);
    // An identity that exists still answers that object alone; other cmdlets still refuse.
    expect(
      (await exo(tenantId, "Get-OutboundConnector", { Identity: connector.Name })).body.value,
    ).toHaveLength(1);
    expect(failure(await exo(tenantId, "Get-DistributionGroupMember", unknown))).toEqual([404, NOT_FOUND]);
  });
});
