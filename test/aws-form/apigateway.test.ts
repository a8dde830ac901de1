/**
 * API Gateway of the deployed form, on the stack's own template: routes at the root and under
 * the stage, the REST proxy event and answer, the TOKEN authorizer (validation, cache, policy),
 * usage plans (management calls through the real API Gateway client), throttling, payload and
 * integration limits, gateway responses. Functions are small fakes here (JSON in, result out).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { APIGatewayClient } from "@aws-sdk/client-api-gateway";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { usageKeyValue } from "../../functions/api/usage-key.ts";
import { UsagePlanPartnerLimits } from "../../functions/api/usage-plans.ts";
import { javaRegExp } from "../../infra/aws-local/apigateway/authorizer.ts";
import { createGateway } from "../../infra/aws-local/apigateway/gateway.ts";
import { type ApiGateway, startApiGateway } from "../../infra/aws-local/apigateway/index.ts";
import { ApiKeyStore } from "../../infra/aws-local/apigateway/keys.ts";
import { readRestApi } from "../../infra/aws-local/apigateway/model.ts";
import type { IncomingRequest } from "../../infra/aws-local/apigateway/proxy.ts";
import type { AwsServiceHandler, InvokeResult } from "../../infra/aws-local/contracts.ts";
import type { Assembly } from "../../infra/aws-local/template.ts";
import { synthAssembly, tempDataDir } from "./assembly.ts";

const PREFIX = "journal-onboarding-JournalOnboarding-";
type Fn = (event: Record<string, unknown>) => InvokeResult | Promise<InvokeResult>;

let assembly: Assembly;
let authorizerArn: string;
let apiArn: string;
const fns = new Map<string, Fn>();
const invoke = async (ref: string, event: unknown) => {
  const fn = fns.get(ref);
  if (!fn) throw new Error(`no function ${ref}`);
  return fn(JSON.parse(JSON.stringify(event)) as Record<string, unknown>);
};

const allow = (
  methodArn: string,
  usage = usageKeyValue(`${PREFIX}shared`),
  effect = "Allow",
): InvokeResult => ({
  ok: true,
  payload: {
    principalId: "p1",
    usageIdentifierKey: usage,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [
        { Action: "execute-api:Invoke", Effect: effect, Resource: methodArn.replace(/\/[^/]+\/.*$/, "/*") },
      ],
    },
    context: { role: "partner", partnerId: "p1", flag: true },
  },
});
const echo: Fn = (event) => ({ ok: true, payload: { statusCode: 200, body: JSON.stringify(event) } });

beforeAll(async () => {
  assembly = await synthAssembly();
  const api = readRestApi(assembly);
  authorizerArn = [...api.authorizers.values()][0]?.functionArn as string;
  apiArn = api.resources.get("/health")?.get("GET")?.functionArn as string;
});

describe("routes and the proxy event", () => {
  let gw: ApiGateway;
  beforeAll(async () => {
    fns.set(apiArn, echo);
    fns.set(authorizerArn, (e) => allow(String(e["methodArn"])));
    gw = await startApiGateway({ assembly, invoke, port: 0, dataDir: tempDataDir() });
  });
  afterAll(() => gw.close());

  it("serves the stage's routes at the root and under the stage", async () => {
    for (const [path, rawPath] of [
      ["/health", "/prod/health"],
      ["/prod/health", "/prod/health"],
    ]) {
      const res = await fetch(`${gw.url}${path}?a=1&a=2&b=3`, { headers: { "X-Custom": "one" } });
      expect(res.status).toBe(200);
      const event = await res.json();
      expect(event).toMatchObject({
        resource: "/health",
        path: "/health",
        httpMethod: "GET",
        queryStringParameters: { a: "2", b: "3" },
        multiValueQueryStringParameters: { a: ["1", "2"], b: ["3"] },
        pathParameters: null,
        stageVariables: null,
        body: null,
        isBase64Encoded: false,
        requestContext: {
          stage: "prod",
          path: rawPath,
          resourcePath: "/health",
          identity: { sourceIp: "127.0.0.1" },
        },
      });
      expect(event.headers["X-Custom"]).toBe("one");
      expect(event.headers["X-Forwarded-For"]).toBe("127.0.0.1");
      expect(event.headers["X-Amzn-Trace-Id"]).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);
      expect(event.multiValueHeaders["X-Custom"]).toEqual(["one"]);
      expect(res.headers.get("content-type")).toBe("application/json");
    }
  });

  it("matches greedy paths and the most specific resource first", async () => {
    const proxy = await (await fetch(`${gw.url}/console/js/app%20x.js`)).json();
    expect(proxy).toMatchObject({ resource: "/console/{proxy+}", pathParameters: { proxy: "js/app x.js" } });
    const callback = await (await fetch(`${gw.url}/v1/consent/callback?state=s`)).json();
    expect(callback.resource).toBe("/v1/consent/callback");
    expect(callback.requestContext.authorizer).toBeUndefined();
    const v1 = await (
      await fetch(`${gw.url}/v1/tenants/t-1`, {
        method: "POST",
        body: "{}",
        headers: { Authorization: "Bearer k1" },
      })
    ).json();
    expect(v1).toMatchObject({
      resource: "/v1/{proxy+}",
      httpMethod: "POST",
      // The stack lists */* as a binary media type: every body comes base64.
      body: Buffer.from("{}").toString("base64"),
      isBase64Encoded: true,
      pathParameters: { proxy: "tenants/t-1" },
      requestContext: {
        authorizer: {
          role: "partner",
          partnerId: "p1",
          flag: "true",
          principalId: "p1",
          integrationLatency: expect.any(Number),
        },
      },
    });
  });

  it("answers an unknown route or method with the API's 404 NOT_FOUND (the template's MISSING_AUTHENTICATION_TOKEN)", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["POST", "/health"],
      ["GET", "/"],
      ["GET", "/v1"],
    ] as const) {
      const res = await fetch(`${gw.url}${path}`, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("x-amzn-errortype")).toBe("MissingAuthenticationTokenException");
      expect(await res.json()).toEqual({
        type: "about:blank",
        code: "NOT_FOUND",
        title: "Not found",
        status: 404,
        detail: "No such resource.",
      });
    }
  });

  it("turns a malformed answer or a function error into 502, a refused invocation into 500", async () => {
    const cases: [Fn, number][] = [
      [() => ({ ok: true, payload: { statusCode: 200, body: { not: "a string" } } }), 502],
      [() => ({ ok: true, payload: { statusCode: 200, extra: 1 } }), 502],
      [() => ({ ok: true, payload: "hello" }), 502],
      [() => ({ ok: false, errorType: "Error", errorMessage: "boom" }), 502],
      [
        () => {
          throw new Error("no such function");
        },
        500,
      ],
      [
        () => ({
          ok: false,
          errorType: "TooManyRequestsException",
          errorMessage: "Rate exceeded",
          refused: true,
        }),
        500,
      ],
      [
        () => ({
          ok: true,
          payload: {
            statusCode: 201,
            headers: { "WWW-Authenticate": "Bearer", "Content-Length": "999" },
            multiValueHeaders: { "Set-Cookie": ["a=1", "b=2"] },
          },
        }),
        201,
      ],
    ];
    try {
      for (const [fn, status] of cases) {
        fns.set(apiArn, fn);
        const res = await fetch(`${gw.url}/health`);
        expect(res.status).toBe(status);
        if (status >= 500) {
          expect(await res.json()).toMatchObject({
            title: "Internal Server Error",
            detail: "Internal server error",
          });
        } else {
          expect(res.headers.getSetCookie()).toEqual(["a=1", "b=2"]);
          // Renamed by API Gateway, as on AWS.
          expect(res.headers.get("www-authenticate")).toBeNull();
          expect(res.headers.get("x-amzn-remapped-www-authenticate")).toBe("Bearer");
          expect(res.headers.get("content-length")).toBe("0");
        }
      }
    } finally {
      fns.set(apiArn, echo);
    }
  });

  it("refuses a body over 10 MB with the template's 413", async () => {
    const res = await fetch(`${gw.url}/v1/tenants`, {
      method: "POST",
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 97),
      headers: { Authorization: "Bearer k1" },
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ title: "Content Too Large", status: 413 });
  });
});

describe("the TOKEN authorizer", () => {
  let gw: ApiGateway;
  let calls: string[];
  beforeAll(async () => {
    calls = [];
    fns.set(apiArn, echo);
    fns.set(authorizerArn, (e) => {
      const token = String(e["authorizationToken"]);
      calls.push(token);
      if (token === "Bearer bad") return { ok: false, errorType: "Error", errorMessage: "Unauthorized" };
      if (token === "Bearer broken")
        return { ok: false, errorType: "TypeError", errorMessage: "x is undefined" };
      if (token === "Bearer gone") throw new Error("no such function");
      if (token === "Bearer deny")
        return allow(String(e["methodArn"]), usageKeyValue(`${PREFIX}shared`), "Deny");
      if (token === "Bearer nokey")
        return allow(String(e["methodArn"]), usageKeyValue(`${PREFIX}nobody-has-this-key`));
      return allow(String(e["methodArn"]));
    });
    gw = await startApiGateway({ assembly, invoke, port: 0, dataDir: tempDataDir() });
  });
  afterAll(() => gw.close());
  const get = (authorization?: string) =>
    fetch(
      `${gw.url}/v1/tenants`,
      authorization === undefined ? {} : { headers: { Authorization: authorization } },
    );

  it("checks the identity source and the validation expression before invoking (401)", async () => {
    for (const header of [undefined, "Basic abc", "Bearer two words"]) {
      const res = await get(header);
      expect(res.status, String(header)).toBe(401);
      expect(await res.json()).toEqual({
        type: "about:blank",
        code: "UNAUTHORIZED",
        title: "Unauthorized",
        status: 401,
        detail: "A valid API key is required: Authorization: Bearer <key>.",
      });
      expect(res.headers.get("www-authenticate")).toBe('Bearer realm="journal-onboarding"');
    }
    expect(calls).toEqual([]);
  });

  it("caches the answer per token: the second request does not invoke the authorizer", async () => {
    expect((await get("Bearer k1")).status).toBe(200);
    expect((await get("Bearer k1")).status).toBe(200);
    expect(calls).toEqual(["Bearer k1"]);
    expect((await get("Bearer k2")).status).toBe(200);
    expect(calls).toEqual(["Bearer k1", "Bearer k2"]);
  });

  it("answers 401 on Unauthorized, 403 on Deny, 500 on any other error, 403 for a key in no usage plan", async () => {
    expect((await get("Bearer bad")).status).toBe(401);
    const denied = await get("Bearer deny");
    expect(denied.status).toBe(403);
    expect(await denied.json()).toMatchObject({
      title: "Forbidden",
      detail: expect.stringMatching(/explicit deny/),
    });
    const broken = await get("Bearer broken");
    expect(broken.status).toBe(500);
    expect(await broken.json()).toEqual({
      type: "about:blank",
      code: "INTERNAL_ERROR",
      title: "Internal Server Error",
      detail: null,
    });
    const gone = await get("Bearer gone");
    expect(gone.status).toBe(500);
    expect(await gone.json()).toEqual({
      type: "about:blank",
      code: "INTERNAL_ERROR",
      title: "Internal Server Error",
      detail: null,
    });
    const noKey = await get("Bearer nokey");
    expect(noKey.status).toBe(403);
    expect(await noKey.json()).toMatchObject({ detail: "Forbidden" });
  });

  it("reads the validation expression as the Java regular expression it is (inline flags)", () => {
    expect(javaRegExp("(?i)^bearer [^\\s]+$").test("Bearer k1")).toBe(true);
    expect(javaRegExp("(?i)^bearer [^\\s]+$").test("BEARER k1")).toBe(true);
    expect(javaRegExp("^Bearer [^\\s]+$").test("bearer k1")).toBe(false);
  });

  it("expires the cache after the authorizer's TTL", async () => {
    let now = 1_000_000;
    const api = readRestApi(assembly);
    const gateway = createGateway({ api, keys: new ApiKeyStore(api, tempDataDir()), invoke, now: () => now });
    const before = calls.length;
    const request = (): IncomingRequest => ({
      method: "GET",
      path: "/v1/tenants",
      rawPath: "/prod/v1/tenants",
      rawHeaders: ["Authorization", "Bearer ttl"],
      query: new URLSearchParams(),
      body: Buffer.alloc(0),
      sourceIp: "127.0.0.1",
      requestId: "r",
      receivedAt: new Date(now),
    });
    await gateway.handle(request());
    now += 59_000;
    await gateway.handle(request());
    expect(calls.length - before).toBe(1);
    now += 2_000;
    await gateway.handle(request());
    expect(calls.length - before).toBe(2);
  });
});

describe("usage plans and throttling", () => {
  it("throttles per API key: each partner's usage plan binds, the stage's limit is far above", async () => {
    let now = 5_000_000;
    const api = readRestApi(assembly);
    const keys = new ApiKeyStore(api, tempDataDir());
    const partners = api.usagePlans.find((p) => p.name.endsWith("-partners"))?.id as string;
    for (const partner of ["a", "b", "c"]) {
      const key = keys.createKey({
        name: `${PREFIX}${partner}`,
        value: usageKeyValue(`${PREFIX}${partner}`),
        enabled: true,
      });
      keys.addPlanKey(partners, key.id);
    }
    fns.set(apiArn, echo);
    fns.set(authorizerArn, (e) =>
      allow(String(e["methodArn"]), usageKeyValue(`${PREFIX}${String(e["authorizationToken"]).slice(7)}`)),
    );
    const gateway = createGateway({ api, keys, invoke, now: () => now });
    const call = async (partner: string) => {
      const answer = await gateway.handle({
        method: "GET",
        path: "/v1/tenants",
        rawPath: "/prod/v1/tenants",
        rawHeaders: ["Authorization", `Bearer ${partner}`],
        query: new URLSearchParams(),
        body: Buffer.alloc(0),
        sourceIp: "127.0.0.1",
        requestId: "r",
        receivedAt: new Date(now),
      });
      return answer;
    };
    const statuses = async (partner: string, n: number) => {
      const out: number[] = [];
      for (let i = 0; i < n; i++) out.push((await call(partner)).status);
      return out;
    };
    // The partner plan: burst 50 per key.
    expect(await statuses("a", 51)).toEqual([...Array(50).fill(200), 429]);
    const throttled = await call("a");
    expect(throttled.headers).toContainEqual(["Retry-After", "1"]);
    expect(JSON.parse(String(throttled.body))).toMatchObject({ title: "Too Many Requests", status: 429 });
    // b and c have buckets of their own; the stage's (an account safety net) is far above them.
    expect(await statuses("b", 50)).toEqual(Array(50).fill(200));
    expect(await statuses("c", 50)).toEqual(Array(50).fill(200));
    now += 1_000; // +25 tokens in each key's bucket
    expect(await statuses("a", 26)).toEqual([...Array(25).fill(200), 429]); // a's key bucket
  });

  it("throttles GET /health by its own method setting (burst 20)", async () => {
    const api = readRestApi(assembly);
    fns.set(apiArn, echo);
    const gateway = createGateway({ api, keys: new ApiKeyStore(api, tempDataDir()), invoke, now: () => 42 });
    const out: number[] = [];
    for (let i = 0; i < 21; i++) {
      const answer = await gateway.handle({
        method: "GET",
        path: "/health",
        rawPath: "/prod/health",
        rawHeaders: [],
        query: new URLSearchParams(),
        body: Buffer.alloc(0),
        sourceIp: "127.0.0.1",
        requestId: "r",
        receivedAt: new Date(),
      });
      out.push(answer.status);
    }
    expect(out).toEqual([...Array(20).fill(200), 429]);
  });

  it("serves the API function's management calls, keeps keys in DATA_DIR, and uses them at once", async () => {
    const dataDir = tempDataDir();
    fns.set(apiArn, echo);
    fns.set(authorizerArn, (e) =>
      allow(String(e["methodArn"]), usageKeyValue(`${PREFIX}${String(e["authorizationToken"]).slice(7)}`)),
    );
    const gw = await startApiGateway({ assembly, invoke, port: 0, dataDir });
    const endpoint = await serveAws(gw.management);
    try {
      const client = new APIGatewayClient({
        endpoint: endpoint.url,
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "y" },
      });
      const limits = new UsagePlanPartnerLimits({
        usagePlanName: "JournalOnboarding-partners",
        keyPrefix: PREFIX,
        client,
      });
      expect((await fetch(`${gw.url}/v1/x`, { headers: { Authorization: "Bearer partner-1" } })).status).toBe(
        403,
      );
      await limits.ensurePartner("partner-1");
      // Twice: both steps meet "already there" (ConflictException) and carry on.
      await new UsagePlanPartnerLimits({
        usagePlanName: "JournalOnboarding-partners",
        keyPrefix: PREFIX,
        client,
      }).ensurePartner("partner-1");
      expect(
        (await fetch(`${gw.url}/v1/x`, { headers: { Authorization: "Bearer partner-1x" } })).status,
      ).toBe(403);
      const ok = await fetch(`${gw.url}/prod/v1/x`, { headers: { Authorization: "Bearer partner-1" } });
      expect(ok.status).toBe(200);
      expect((await ok.json()).requestContext.identity.apiKey).toBe(usageKeyValue(`${PREFIX}partner-1`));
    } finally {
      await endpoint.close();
      await gw.close();
    }
    const again = await startApiGateway({ assembly, invoke, port: 0, dataDir });
    try {
      const res = await fetch(`${again.url}/v1/x`, { headers: { Authorization: "Bearer partner-1" } });
      expect(res.status).toBe(200);
    } finally {
      await again.close();
    }
  });
});

describe("request validators and binary media types (the template varied)", () => {
  let gw: ApiGateway;
  beforeAll(async () => {
    const varied = await synthAssembly((template) => {
      for (const resource of Object.values(template.Resources)) {
        const p = resource.Properties ?? {};
        if (resource.Type === "AWS::ApiGateway::RestApi")
          p["BinaryMediaTypes"] = ["application~1octet-stream"];
        if (resource.Type === "AWS::ApiGateway::Method" && p["AuthorizationType"] === "CUSTOM") {
          p["AuthorizationType"] = "NONE";
          delete p["AuthorizerId"];
          delete p["ApiKeyRequired"];
        }
      }
    });
    fns.set(apiArn, echo);
    gw = await startApiGateway({ assembly: varied, invoke, port: 0, dataDir: tempDataDir() });
  });
  afterAll(() => gw.close());

  it("refuses a request without a required header (400 VALIDATION_FAILED, BAD_REQUEST_PARAMETERS)", async () => {
    const res = await fetch(`${gw.url}/v1/tenants`);
    expect(res.status).toBe(400);
    expect(res.headers.get("x-amzn-errortype")).toBe("BadRequestException");
    expect(await res.json()).toEqual({
      type: "about:blank",
      code: "VALIDATION_FAILED",
      title: "Invalid request",
      status: 400,
      detail: "Missing required request parameters: [Authorization]",
    });
    expect((await fetch(`${gw.url}/v1/tenants`, { headers: { Authorization: "x" } })).status).toBe(200);
  });

  it("base64-encodes a body of a binary media type, and only that", async () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    const binary = await (
      await fetch(`${gw.url}/v1/x`, {
        method: "PUT",
        body: bytes,
        headers: { Authorization: "x", "Content-Type": "application/octet-stream" },
      })
    ).json();
    expect(binary).toMatchObject({ body: bytes.toString("base64"), isBase64Encoded: true });
    const text = await (
      await fetch(`${gw.url}/v1/x`, {
        method: "PUT",
        body: "{}",
        headers: { Authorization: "x", "Content-Type": "application/json" },
      })
    ).json();
    expect(text).toMatchObject({ body: "{}", isBase64Encoded: false });
  });

  it("decodes a base64 answer only for a client that accepts a binary media type", async () => {
    const bytes = Buffer.from([0, 255, 1, 254]);
    fns.set(apiArn, () => ({
      ok: true,
      payload: { statusCode: 200, body: bytes.toString("base64"), isBase64Encoded: true },
    }));
    try {
      const binary = await fetch(`${gw.url}/health`, { headers: { Accept: "application/octet-stream" } });
      expect(Buffer.from(await binary.arrayBuffer())).toEqual(bytes);
      const text = await fetch(`${gw.url}/health`, { headers: { Accept: "application/json" } });
      expect(await text.text()).toBe(bytes.toString("base64"));
    } finally {
      fns.set(apiArn, echo);
    }
  });
});

describe("the integration timeout", () => {
  it("answers 504 when the function takes longer than the integration timeout", async () => {
    fns.set(
      apiArn,
      () =>
        new Promise((resolve) => setTimeout(() => resolve({ ok: true, payload: { statusCode: 200 } }), 300)),
    );
    const gw = await startApiGateway({
      assembly,
      invoke,
      port: 0,
      dataDir: tempDataDir(),
      integrationTimeoutMs: 50,
    });
    try {
      const res = await fetch(`${gw.url}/health`);
      expect(res.status).toBe(504);
      expect(await res.json()).toMatchObject({ detail: "Endpoint request timed out" });
    } finally {
      fns.set(apiArn, echo);
      await gw.close();
    }
  });
});

/** An HTTP endpoint in front of a service handler, as the cloud endpoint is (no signature check). */
async function serveAws(handler: AwsServiceHandler): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = await handler({
      service: "apigateway",
      method: req.method ?? "GET",
      url: req.url ?? "/",
      headers: req.headers as Record<string, string>,
      body: Buffer.concat(chunks),
      caller: "test",
    });
    res.writeHead(answer.status, answer.headers);
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}
