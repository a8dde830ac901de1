/**
 * The adapter's pure parts: error model, Exchange output normalisation, the retry policy's
 * arithmetic (with an injected clock) and the cloud endpoint table.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  errorFromAdminApiErrors,
  errorFromResponse,
  errorFromTokenFailure,
  parseODataError,
} from "../functions/adapters/m365/error-model.ts";
import { createM365GatewayFromEnv } from "../functions/adapters/m365/gateway.ts";
import {
  list,
  optionalAddress,
  toJournalRule,
  toOutboundConnector,
  toTransportConfig,
  toValidationTask,
} from "../functions/adapters/m365/normalize.ts";
import { RetryPolicy } from "../functions/adapters/m365/retry.ts";
import { M365_CLOUDS, readM365AppConfig, resolveM365Endpoints } from "../functions/commons/config.ts";
import { parseRetryAfter } from "../functions/commons/http.ts";
import {
  AccessDeniedError,
  ConsentRequiredError,
  DehydratedOrganizationError,
  InvalidRequestError,
  NotFoundError,
  ThrottledError,
  TransientError,
} from "../functions/domain/errors.ts";

const exchangeBody = (type: string, text: string) =>
  JSON.stringify({
    error: {
      code: "BadRequest",
      message: "Error executing cmdlet",
      details: [{ code: "Context", target: "", message: `Ex6F9304|${type}|${text}` }],
      innererror: { internalexception: { message: "inner", type } },
    },
  });

describe("OData errors", () => {
  it("takes details[].message first, then internalException.message, then error.message", () => {
    expect(parseODataError(exchangeBody("X.YException", "the text"))).toMatchObject({
      message: "the text",
      exceptionType: "X.YException",
    });
    expect(
      parseODataError(
        JSON.stringify({
          error: { message: "outer", innererror: { internalException: { message: "inner" } } },
        }),
      ),
    ).toMatchObject({ message: "inner" });
    expect(parseODataError(JSON.stringify({ error: { code: "Forbidden", message: "outer" } }))).toEqual({
      code: "Forbidden",
      message: "outer",
    });
    expect(parseODataError("<html>Bad gateway</html>")).toEqual({ message: "<html>Bad gateway</html>" });
  });

  it("maps status and exception type to the named errors", () => {
    const h = (retryAfter?: string) => new Headers(retryAfter ? { "retry-after": retryAfter } : {});
    const map = (status: number, body: string, headers = h()) =>
      errorFromResponse("exchange", "Op", status, headers, body);
    expect(map(429, "{}", h("5"))).toBeInstanceOf(ThrottledError);
    expect((map(429, "{}", h("5")) as ThrottledError).retryAfterMs).toBe(5000);
    expect(map(503, "{}", h("2"))).toBeInstanceOf(ThrottledError);
    expect(map(503, "{}")).toBeInstanceOf(TransientError);
    expect(
      map(500, exchangeBody("Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException", "x")),
    ).toBeInstanceOf(NotFoundError);
    expect(map(400, exchangeBody("A.InvalidOperationInDehydratedContextException", "x"))).toBeInstanceOf(
      DehydratedOrganizationError,
    );
    expect(map(404, "{}")).toBeInstanceOf(NotFoundError);
    expect(map(401, JSON.stringify({ error: { message: "AADSTS65001: consent" } }))).toBeInstanceOf(
      ConsentRequiredError,
    );
    expect(map(401, JSON.stringify({ error: { message: "token expired" } }))).toBeInstanceOf(
      AccessDeniedError,
    );
    expect(map(403, "{}")).toBeInstanceOf(AccessDeniedError);
    expect(map(400, exchangeBody("System.ArgumentException", "bad value"))).toBeInstanceOf(
      InvalidRequestError,
    );
    expect(map(400, exchangeBody("System.ArgumentException", "bad value")).message).toBe("Op: bad value");
  });

  it("parses Retry-After as seconds or an HTTP date", () => {
    const now = Date.parse("2026-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("0.5", now)).toBe(500);
    expect(parseRetryAfter("Thu, 01 Jan 2026 00:00:10 GMT", now)).toBe(10_000);
    expect(parseRetryAfter("Wed, 31 Dec 2025 23:59:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    fc.assert(fc.property(fc.nat(100_000), (s) => parseRetryAfter(String(s), now) === s * 1000));
  });
});

describe("token failures", () => {
  // Seen on the AWS form under a 1,000-tenant wave: a Graph token request that never reached the
  // identity endpoint failed check-access as M365_ACCESS_DENIED (3 of 1,000 tenants).
  it("a failure with no answer from Entra ID (no status, no AADSTS code) is transient, not a refusal", () => {
    const timedOut = Object.assign(new Error("Request timed out after 30000 ms"), { name: "AbortError" });
    expect(errorFromTokenFailure("t1", "graph", timedOut)).toBeInstanceOf(TransientError);
    const discovery = new Error("endpoints_resolution_error: Endpoints cannot be resolved");
    expect(errorFromTokenFailure("t1", "graph", discovery)).toBeInstanceOf(TransientError);
  });

  it("Entra ID's own refusals stay what they are", () => {
    const badSecret = new Error("AADSTS7000215: Invalid client secret provided.");
    expect(errorFromTokenFailure("t1", "graph", badSecret)).toBeInstanceOf(AccessDeniedError);
    const noConsent = new Error(
      "AADSTS65001: The user or administrator has not consented to use the application.",
    );
    expect(errorFromTokenFailure("t1", "graph", noConsent)).toBeInstanceOf(ConsentRequiredError);
    const refused = Object.assign(new Error("AADSTS50034: The user account does not exist."), {
      statusCode: 400,
    });
    expect(errorFromTokenFailure("t1", "graph", refused)).toBeInstanceOf(AccessDeniedError);
  });
});

describe("Exchange output normalisation", () => {
  it("reads lists given as arrays, single values or null", () => {
    expect(list(null)).toEqual([]);
    expect(list("a.example")).toEqual(["a.example"]);
    expect(list(["a.example", " ", "b.example"])).toEqual(["a.example", "b.example"]);
  });

  it("strips smtp: prefixes and reads <> as no address", () => {
    expect(optionalAddress("<>")).toBeNull();
    expect(optionalAddress("SMTP:Admin@Contoso.com")).toBe("Admin@Contoso.com");
    expect(toTransportConfig({ JournalingReportNdrTo: "smtp:ndr@contoso.com" })).toEqual({
      journalingReportNdrTo: "ndr@contoso.com",
    });
    expect(toTransportConfig(undefined)).toEqual({ journalingReportNdrTo: null });
  });

  it("maps PascalCase (in any casing) to the port's connector and rule", () => {
    expect(
      toOutboundConnector({
        identity: "C",
        NAME: "C",
        Comment: null,
        ConnectorType: "partner",
        RecipientDomains: "journaling.mxrecord.io",
        SmartHosts: ["h1.example", "h2.example"],
        UseMXRecord: "False",
        TlsSettings: "certificatevalidation",
        Enabled: "True",
        TestMode: true,
      }),
    ).toEqual({
      identity: "C",
      name: "C",
      comment: "",
      connectorType: "Partner",
      recipientDomains: ["journaling.mxrecord.io"],
      smartHosts: ["h1.example", "h2.example"],
      useMxRecord: false,
      tlsSettings: "CertificateValidation",
      enabled: true,
      isTransportRuleScoped: false,
      testMode: true,
      isValidated: false,
      validationRecipients: [],
    });
    expect(
      toJournalRule({
        Name: "R",
        guid: "0f6e8d52-3c1b-4a7e-9d2f-5b8a1c4e7f30",
        JournalEmailAddress: "SMTP:j@x.example",
        Scope: "external",
        Recipient: "",
        Enabled: true,
      }),
    ).toEqual({
      identity: "R",
      guid: "0f6e8d52-3c1b-4a7e-9d2f-5b8a1c4e7f30",
      name: "R",
      journalEmailAddress: "j@x.example",
      scope: "External",
      recipient: null,
      enabled: true,
    });
  });
});

describe("errors inside a 200 answer (@adminapi.errors)", () => {
  it("are classified by their exception type first: a transient fault naming a cmdlet is not dehydration", () => {
    const transient = errorFromAdminApiErrors("Enable-OrganizationCustomization", [
      "Ex5E2F9A|Microsoft.Exchange.Data.Directory.ADTransientException|Enable-OrganizationCustomization: the operation couldn't be completed on every object. Try again.",
    ]);
    expect(transient).toBeInstanceOf(TransientError);
    const dehydrated = errorFromAdminApiErrors("Set-TransportConfig", [
      "ExBA8FEF|Microsoft.Exchange.Configuration.Tasks.InvalidOperationInDehydratedContextException|The operation on this object isn't allowed because the organization is dehydrated.",
    ]);
    expect(dehydrated).toBeInstanceOf(DehydratedOrganizationError);
    const refused = errorFromAdminApiErrors("Remove-DistributionGroupMember", ["Something went wrong."]);
    expect(refused).toBeInstanceOf(InvalidRequestError);
  });
});

describe("Validate-OutboundConnector rows", () => {
  it("reads TaskName and the boolean IsTaskSuccessful (what public scripts select)", () => {
    expect(toValidationTask({ TaskName: "SMTP connectivity", IsTaskSuccessful: true, Error: null })).toEqual({
      task: "SMTP connectivity",
      outcome: "passed",
    });
    expect(
      toValidationTask({ TaskName: "Send test mail", IsTaskSuccessful: false, Error: "550 5.7.1 refused" }),
    ).toEqual({ task: "Send test mail", outcome: "failed", details: "550 5.7.1 refused" });
    expect(toValidationTask({ taskname: "x", istasksuccessful: "True" }).outcome).toBe("passed");
  });

  it("tolerates a string status, and never counts a row with neither as a pass", () => {
    expect(toValidationTask({ TaskName: "x", Status: "Succeeded" }).outcome).toBe("passed");
    expect(toValidationTask({ Task: "x", Result: "Failed" }).outcome).toBe("failed");
    expect(toValidationTask({ TaskName: "x" }).outcome).toBe("unknown");
    expect(toValidationTask({ TaskName: "x", Status: "Pending" }).outcome).toBe("unknown");
    expect(toValidationTask({ TaskName: "x", IsTaskSuccessful: null }).outcome).toBe("unknown");
  });
});

describe("retry policy", () => {
  const ctx = { service: "exchange" as const, tenantId: "t", operation: "Op" };

  it("keeps full-jitter backoff within [0, min(cap, base * 2^(n-1))]", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 0.999999, noNaN: true }),
        fc.integer({ min: 1, max: 30 }),
        (r, n) => {
          const p = new RetryPolicy({ baseDelayMs: 100, maxDelayMs: 5_000, random: () => r });
          const d = p.backoff(n);
          return d >= 0 && d <= Math.min(5_000, 100 * 2 ** (n - 1));
        },
      ),
    );
  });

  it("waits at least Retry-After, and never more than the attempts allow", async () => {
    const waits: number[] = [];
    const p = new RetryPolicy({
      maxAttempts: 3,
      baseDelayMs: 100,
      maxDelayMs: 10_000,
      sleep: async (ms) => void waits.push(ms),
    });
    let n = 0;
    const err = await p
      .run(ctx, async () => {
        n++;
        throw new ThrottledError("slow down", 2_000);
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ThrottledError);
    expect(n).toBe(3);
    expect(waits).toHaveLength(2);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(2_000);
  });

  it("does not retry what cannot succeed, nor sleep a Retry-After beyond the cap", async () => {
    const waits: number[] = [];
    const p = new RetryPolicy({ maxDelayMs: 1_000, sleep: async (ms) => void waits.push(ms) });
    let n = 0;
    await expect(
      p.run(ctx, async () => {
        n++;
        throw new ConsentRequiredError("no consent");
      }),
    ).rejects.toBeInstanceOf(ConsentRequiredError);
    await expect(
      p.run(ctx, async () => {
        n++;
        throw new ThrottledError("later", 60_000);
      }),
    ).rejects.toMatchObject({ name: "ThrottledError", retryAfterMs: 60_000 });
    expect([n, waits]).toEqual([2, []]);
  });

  it("treats anything else thrown (a dropped connection) as transient", async () => {
    const p = new RetryPolicy({ maxAttempts: 2, sleep: async () => {} });
    let n = 0;
    const value = await p.run(ctx, async () => {
      n++;
      if (n === 1) throw Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNRESET" } });
      return { value: "ok" };
    });
    expect([value, n]).toEqual(["ok", 2]);
  });
});

describe("cloud endpoints", () => {
  it("sets all three endpoints per national cloud", () => {
    expect(resolveM365Endpoints({}).endpoints).toEqual(M365_CLOUDS.global);
    expect(resolveM365Endpoints({ M365_CLOUD: "usgovhigh" }).endpoints).toEqual({
      authorityHost: "https://login.microsoftonline.us",
      graph: "https://graph.microsoft.us",
      exchange: "https://outlook.office365.us",
    });
    expect(resolveM365Endpoints({ M365_CLOUD: "usgovdod" }).endpoints).toEqual({
      authorityHost: "https://login.microsoftonline.us",
      graph: "https://dod-graph.microsoft.us",
      exchange: "https://outlook-dod.office365.us",
    });
    expect(resolveM365Endpoints({ M365_CLOUD: "china" }).endpoints).toEqual({
      authorityHost: "https://login.chinacloudapi.cn",
      graph: "https://microsoftgraph.chinacloudapi.cn",
      exchange: "https://partner.outlook.cn",
    });
    expect(() => resolveM365Endpoints({ M365_CLOUD: "mars" })).toThrow(/M365_CLOUD must be one of/);
  });

  it("talks to DoD's Exchange host with a token for that host (no DoD tenant is reachable from here)", async () => {
    const scopes: string[] = [];
    const requests: { url: string; anchor: string | null }[] = [];
    const tenantId = "11111111-2222-3333-4444-555555555555";
    const gateway = createM365GatewayFromEnv(
      { M365_CLOUD: "usgovdod", M365_CLIENT_ID: "app", M365_CLIENT_SECRET: "secret" },
      {
        // Stand-ins for the two network parts only: the DoD cloud cannot be reached from a test.
        createCredential: () => ({
          getToken: async (scope) => {
            scopes.push(String(scope));
            return { token: "t", expiresOnTimestamp: Date.now() + 3_600_000 };
          },
        }),
        fetch: (async (url: string | URL | Request, init?: RequestInit) => {
          requests.push({ url: String(url), anchor: new Headers(init?.headers).get("x-anchormailbox") });
          return new Response(JSON.stringify({ value: [{ JournalingReportNdrTo: "<>" }] }), { status: 200 });
        }) as typeof fetch,
      },
    );
    await gateway!.tenant(tenantId).exchange.getTransportConfig();
    expect(scopes).toEqual(["https://outlook-dod.office365.us/.default"]);
    expect(requests).toEqual([
      {
        url: `https://outlook-dod.office365.us/adminapi/beta/${tenantId}/InvokeCommand`,
        anchor: `APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@${tenantId}`,
      },
    ]);
    expect(gateway!.consentUrl(tenantId)).toMatch(/^https:\/\/login\.microsoftonline\.us\//);
  });

  it("lets explicit https endpoints override the cloud, and marks an explicit authority", () => {
    const r = resolveM365Endpoints({
      M365_CLOUD: "china",
      M365_AUTHORITY_HOST: "https://login.example.test/",
      M365_EXCHANGE_ENDPOINT: "https://exchange.example.test",
    });
    expect(r).toEqual({
      cloud: "china",
      explicitAuthorityHost: true,
      endpoints: {
        authorityHost: "https://login.example.test",
        graph: "https://microsoftgraph.chinacloudapi.cn",
        exchange: "https://exchange.example.test",
      },
    });
    expect(
      resolveM365Endpoints({ M365_GRAPH_ENDPOINT: "https://g.example.test" }).explicitAuthorityHost,
    ).toBe(false);
    expect(() => resolveM365Endpoints({ M365_GRAPH_ENDPOINT: "http://graph.example.test" })).toThrow(
      /M365_GRAPH_ENDPOINT/,
    );
    expect(() => resolveM365Endpoints({ M365_AUTHORITY_HOST: "not a url" })).toThrow(/M365_AUTHORITY_HOST/);
  });

  it("reads the app's credentials, refusing an incomplete set", () => {
    expect(readM365AppConfig({})).toBeUndefined();
    expect(readM365AppConfig({ M365_CLIENT_ID: "id", M365_CLIENT_SECRET: "s" })).toEqual({
      clientId: "id",
      clientSecret: "s",
    });
    expect(readM365AppConfig({ M365_CLIENT_ID: "id", M365_CLIENT_CERTIFICATE_PATH: "/c.pem" })).toEqual({
      clientId: "id",
      clientCertificatePath: "/c.pem",
    });
    expect(() => readM365AppConfig({ M365_CLIENT_ID: "id" })).toThrow(
      /M365_CLIENT_SECRET or M365_CLIENT_CERTIFICATE_PATH/,
    );
    expect(() => readM365AppConfig({ M365_CLIENT_SECRET: "s" })).toThrow(/M365_CLIENT_ID is required/);
  });
});
