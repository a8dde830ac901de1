/**
 * API Gateway (REST) of the deployed form: the template's API on one HTTP port, its stage's
 * routes served both at the root (`http://host:port/v1/...`, as behind a custom domain mapped
 * to the stage: the base URL the banner shows, so every client of `npm start` works unchanged)
 * and under the stage (`http://host:port/prod/v1/...`, as AWS's execute-api URL carries it).
 * Also the management calls (API keys, usage plans) for the cloud endpoint.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { AwsServiceHandler, Invoke } from "../contracts.ts";
import type { Assembly } from "../template.ts";
import { createGateway, type Gateway, PAYLOAD_LIMIT_BYTES } from "./gateway.ts";
import { ApiKeyStore } from "./keys.ts";
import { createManagement } from "./management.ts";
import { readRestApi, type UsagePlanModel } from "./model.ts";

export interface ApiGatewayOptions {
  assembly: Assembly;
  invoke: Invoke;
  port: number;
  host?: string;
  dataDir: string;
  /** @default 29 s, API Gateway's */
  integrationTimeoutMs?: number;
}

export interface ApiGateway {
  /** The base URL (root-mapped); `${url}/${stage}` is the stage's execute-api form. */
  url: string;
  stage: string;
  management: AwsServiceHandler;
  /** The gateway itself (tests: its authorizers' invocation counts). */
  gateway: Gateway;
  /** The stage's usage plans, as the gateway throttles by them (an operator may edit a throttle). */
  usagePlans: UsagePlanModel[];
  close(): Promise<void>;
}

export async function startApiGateway(o: ApiGatewayOptions): Promise<ApiGateway> {
  const api = readRestApi(o.assembly);
  const keys = new ApiKeyStore(api, o.dataDir);
  const gateway = createGateway({
    api,
    keys,
    invoke: o.invoke,
    ...(o.integrationTimeoutMs !== undefined && { integrationTimeoutMs: o.integrationTimeoutMs }),
  });
  const stagePrefix = `/${api.stageName}`;

  const serve = async (req: IncomingMessage, res: ServerResponse) => {
    const requestId = randomUUID();
    const receivedAt = new Date();
    const body = await readBody(req);
    const answer =
      body === "too large"
        ? gateway.tooLarge(requestId)
        : await gateway.handle({
            method: req.method ?? "GET",
            ...paths(req.url ?? "/", stagePrefix),
            rawHeaders: forwardedHeaders(req),
            query: new URL(req.url ?? "/", "http://localhost").searchParams,
            body,
            sourceIp: (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, ""),
            requestId,
            receivedAt,
          });
    const headers = [...answer.headers, ["x-amzn-RequestId", requestId]];
    const payload = typeof answer.body === "string" ? Buffer.from(answer.body) : answer.body;
    res.writeHead(answer.status, [...headers.flat(), "Content-Length", String(payload.length)]);
    res.end(req.method === "HEAD" ? undefined : payload);
  };

  const server = createServer((req, res) => {
    serve(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { "content-type": "application/json" });
      res.end('{"message":"Internal server error"}');
    });
  });
  const host = o.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    stage: api.stageName,
    management: createManagement(keys),
    gateway,
    usagePlans: keys.plans,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

/**
 * The client's headers with those API Gateway adds (`X-Forwarded-For` appended to, port,
 * protocol, and an X-Ray trace id).
 */
function forwardedHeaders(req: IncomingMessage): string[] {
  const own = new Set(["x-forwarded-for", "x-forwarded-port", "x-forwarded-proto", "x-amzn-trace-id"]);
  const kept: string[] = [];
  let forwardedFor: string | undefined;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] as string;
    if (name.toLowerCase() === "x-forwarded-for") forwardedFor = req.rawHeaders[i + 1];
    if (!own.has(name.toLowerCase())) kept.push(name, req.rawHeaders[i + 1] as string);
  }
  const ip = (req.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");
  const trace = `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, "").slice(0, 24)}`;
  return [
    ...kept,
    "X-Amzn-Trace-Id",
    trace,
    "X-Forwarded-For",
    forwardedFor ? `${forwardedFor}, ${ip}` : ip,
    "X-Forwarded-Port",
    String(req.socket.localPort ?? ""),
    // This form serves http; AWS's endpoint is https only.
    "X-Forwarded-Proto",
    "http",
  ];
}

/** The path without the stage (`/prod/v1/x` and `/v1/x` are both `/v1/x`) and as sent. */
function paths(url: string, stagePrefix: string): { path: string; rawPath: string } {
  const pathname = url.split("?")[0] || "/";
  if (pathname === stagePrefix || pathname.startsWith(`${stagePrefix}/`)) {
    return { path: pathname.slice(stagePrefix.length) || "/", rawPath: pathname };
  }
  return { path: pathname, rawPath: `${stagePrefix}${pathname === "/" ? "" : pathname}` || "/" };
}

/** The body, or "too large" past API Gateway's 10 MB (the rest is read and dropped). */
async function readBody(req: IncomingMessage): Promise<Buffer | "too large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size <= PAYLOAD_LIMIT_BYTES) chunks.push(chunk as Buffer);
  }
  return size > PAYLOAD_LIMIT_BYTES ? "too large" : Buffer.concat(chunks);
}
