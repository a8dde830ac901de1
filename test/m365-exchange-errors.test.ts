/**
 * How the adapter reads Exchange's failures, against the simulator over HTTPS (the real
 * identity client and our Exchange request core): the error classes of the ExchangeOnlineManagement
 * module, the ambiguity error, a stale token, errors inside a 200 answer, and the calls that are
 * never sent twice. Each behaviour's public source is in docs/m365-fidelity.md.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createM365Gateway, type M365CallEvent, m365ErrorDetails } from "../functions/adapters/m365/index.ts";
import {
  AccessDeniedError,
  AmbiguousIdentityError,
  M365ConfigurationError,
  PermissionMissingError,
  ThrottledError,
  TransientError,
} from "../functions/domain/errors.ts";
import type { M365Gateway, OutboundConnectorSpec } from "../functions/domain/m365.ts";
import { type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { callsOf as callsIn, caught } from "./support/m365.ts";

let sim: Simulator;
let gateway: M365Gateway;
const events: M365CallEvent[] = [];

beforeAll(async () => {
  sim = await startSimulator();
  gateway = createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
    retry: { baseDelayMs: 5, maxDelayMs: 3_000, timeoutMs: 5_000 },
    onCall: (e) => events.push(e),
  });
});

afterAll(async () => {
  await sim?.close();
});

const callsOf = (tenantId: string, operation: string) => callsIn(sim, tenantId, operation);

describe("Exchange error classes", () => {
  it.each([
    [400, "Microsoft.Exchange.Data.Directory.DCOverloadedException"],
    [500, "Microsoft.Exchange.Data.Directory.SuitabilityDirectoryException"],
    [400, "Microsoft.Exchange.Data.Directory.ServerInMMException"],
    [403, "Microsoft.Exchange.Data.Directory.ADServerSettingsChangedException"],
    [400, "Microsoft.Exchange.Data.Storage.StorageTransientException"],
  ])("retries a %i carrying %s, whatever the status", async (status, exceptionType) => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "Get-TransportConfig", {
      kind: "error",
      status,
      exceptionType,
      message: "Active Directory operation failed. This error is not retriable.",
    });
    expect(await ex.getTransportConfig()).toEqual({ journalingReportNdrTo: null });
    expect(callsOf(tenantId, "Get-TransportConfig").map((c) => c.status)).toEqual([status, 200]);
  });

  it("gives up on a directory fault after the in-task attempts as TransientError (the workflow retries it)", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(
      tenantId,
      "Get-TransportConfig",
      {
        kind: "error",
        status: 400,
        exceptionType: "Microsoft.Exchange.Data.Directory.DCOverloadedException",
        message: "The domain controller is overloaded.",
      },
      4,
    );
    const err = await caught(ex.getTransportConfig());
    expect(err).toBeInstanceOf(TransientError);
    expect(m365ErrorDetails(err)?.attempts).toBe(4);
  });

  it("treats the per-tenant concurrency limit as throttling, whatever the status", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "Get-TransportConfig", {
      kind: "error",
      status: 400,
      exceptionType: "System.InvalidOperationException",
      message: "The user has reached the maximum number of concurrent requests per tenant. Try again later.",
    });
    expect(await ex.getTransportConfig()).toEqual({ journalingReportNdrTo: null });
    const first = events.find((e) => e.tenantId === tenantId && e.operation === "Get-TransportConfig");
    expect(first?.errorName).toBe(ThrottledError.name);
  });

  it("reads 'matches multiple entries' as an ambiguity, never as absent, in either exception class", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    for (const exceptionType of [
      "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
      "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
    ]) {
      sim.failNext(tenantId, "Get-Recipient", {
        kind: "error",
        status: 400,
        exceptionType,
        message: "The operation couldn't be performed because object: 'alice' matches multiple entries.",
      });
      const err = await caught(ex.getRecipient("alice"));
      expect(err).toBeInstanceOf(AmbiguousIdentityError);
      expect((err as AmbiguousIdentityError).code).toBe("M365_AMBIGUOUS_IDENTITY");
    }
  });

  it("maps a cmdlet the app may not run ('not recognized') to PermissionMissingError naming the cmdlet and its role", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "Get-JournalRule", {
      kind: "error",
      status: 400,
      exceptionType: "System.Management.Automation.CommandNotFoundException",
      message:
        "The term 'Get-JournalRule' is not recognized as a name of a cmdlet, function, script file, or executable program.",
    });
    const err = await caught(ex.getJournalRule("x"));
    expect(err).toBeInstanceOf(PermissionMissingError);
    expect((err as PermissionMissingError).missing).toEqual([
      { cmdlet: "Get-JournalRule", role: "View-Only Configuration" },
    ]);
  });

  it("fetches a new token once after a 401 from Exchange, then the call goes through", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    await ex.getTransportConfig();
    const tokensBefore = sim.calls(tenantId).filter((c) => c.operation === "token").length;
    sim.failNext(tenantId, "Get-TransportConfig", {
      kind: "error",
      status: 401,
      message: "Access token validation failure. Lifetime validation failed, the token is expired.",
    });
    expect(await ex.getTransportConfig()).toEqual({ journalingReportNdrTo: null });
    const tokensAfter = sim.calls(tenantId).filter((c) => c.operation === "token").length;
    expect(tokensAfter).toBe(tokensBefore + 1);
    expect(callsOf(tenantId, "Get-TransportConfig").map((c) => c.status)).toEqual([200, 401, 200]);
  });

  it("a second 401 in the same call is AccessDeniedError, not a loop", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(
      tenantId,
      "Get-TransportConfig",
      { kind: "error", status: 401, message: "Access token validation failure. Invalid audience." },
      2,
    );
    const err = await caught(ex.getTransportConfig());
    expect(err).toBeInstanceOf(AccessDeniedError);
    expect(callsOf(tenantId, "Get-TransportConfig")).toHaveLength(2);
  });

  it("AADSTS500011 from Entra is a configuration error, not missing consent", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    sim.failNext(tenantId, "token", {
      kind: "error",
      status: 400,
      code: "invalid_resource",
      message:
        "AADSTS500011: The resource principal named https://outlook.office365.us was not found in the tenant named Contoso.",
    });
    const err = await caught(ex.getTransportConfig());
    expect(err).toBeInstanceOf(M365ConfigurationError);
    expect((err as M365ConfigurationError).code).toBe("M365_CONFIGURATION");
  });
});

describe("calls that are never sent twice", () => {
  const CONNECTOR: OutboundConnectorSpec = {
    name: "Deliver journal directly to Area 1",
    comment: "Deliver journal directly to Area 1",
    connectorType: "Partner",
    recipientDomains: ["journaling.mxrecord.io"],
    smartHosts: ["mailstream-east.mxrecord.io"],
    useMxRecord: false,
    tlsSettings: "CertificateValidation",
    enabled: true,
  };

  it("does not re-send Validate-OutboundConnector after a client-side timeout (each call sends a test message)", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    await ex.newOutboundConnector(CONNECTOR);
    sim.failNext(tenantId, "Validate-OutboundConnector", { kind: "drop" });
    const err = await caught(
      ex.validateOutboundConnector("Deliver journal directly to Area 1", ["acme@journaling.mxrecord.io"]),
    );
    expect(err).toBeInstanceOf(TransientError);
    expect(callsOf(tenantId, "Validate-OutboundConnector")).toHaveLength(1);
  });

  it("re-sends Validate-OutboundConnector after a 429 (Exchange did not run it)", async () => {
    const tenantId = randomUUID();
    const ex = gateway.tenant(tenantId).exchange;
    await ex.newOutboundConnector(CONNECTOR);
    sim.failNext(tenantId, "Validate-OutboundConnector", { kind: "throttle", retryAfterSeconds: 0 });
    const tasks = await ex.validateOutboundConnector("Deliver journal directly to Area 1", [
      "acme@journaling.mxrecord.io",
    ]);
    expect(tasks.length).toBeGreaterThan(0);
    expect(callsOf(tenantId, "Validate-OutboundConnector").map((c) => c.status)).toEqual([429, 200]);
  });
});
