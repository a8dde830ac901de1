/**
 * The local front door: turns HTTP requests into API Gateway REST proxy events for the very
 * handler that runs in Lambda, as API Gateway would (including its 10 MB cap, here the API's
 * own 1 MB limit plus a margin, so a huge body cannot exhaust memory).
 */
import { isUtf8 } from "node:buffer";
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from "aws-lambda";

export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** Bodies above this are cut off by the server itself; the API answers 413 above 1 MB. */
const MAX_BUFFERED_BODY = 1024 * 1024 + 64 * 1024;

export interface LocalHttpServer {
  url: string;
  server: Server;
  /**
   * Stops accepting connections at once, lets requests in progress finish for up to `graceMs`
   * (idle keep-alive connections are closed), then cuts whatever is left.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startHttpServer(options: {
  handler: ProxyHandler;
  port?: number;
  host?: string;
  /** Static routes served before the API (e.g. the console). */
  staticRoutes?: (req: IncomingMessage, res: ServerResponse) => boolean;
}): Promise<LocalHttpServer> {
  const server = createServer((req, res) => {
    if (options.staticRoutes?.(req, res)) return;
    handle(options.handler, req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { "content-type": "application/problem+json" });
        res.end(JSON.stringify({ type: "about:blank", title: "Internal Server Error", status: 500 }));
      } else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`,
    server,
    close: (graceMs = 0) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      }),
  };
}

async function handle(handler: ProxyHandler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BUFFERED_BODY) {
      truncated = true;
      continue; // drain without keeping it
    }
    chunks.push(chunk);
  }
  const url = new URL(req.url ?? "/", "http://local");
  // Object.fromEntries keeps keys such as `__proto__` as own properties (as API Gateway's
  // JSON event does), so validation sees and refuses them instead of losing them.
  const rawHeaders: [string, string][] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    rawHeaders.push([req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string]);
  }
  const headers: Record<string, string> = Object.fromEntries(rawHeaders);
  const multiValueHeaders = groupEntries(rawHeaders);
  // Over the cap the body is dropped; the API sees the true size and answers 413.
  if (truncated) headers["content-length"] = String(size);
  const queryEntries = [...url.searchParams];
  const query: Record<string, string> = Object.fromEntries(queryEntries);
  const multiQuery = groupEntries(queryEntries);
  const requestId = randomUUID();
  // A body that is not valid UTF-8 goes on as bytes (base64), not with U+FFFD in place of
  // them: the API refuses it (400) as it does in AWS, instead of reading a replaced text.
  const raw = Buffer.concat(chunks);
  const binary = !isUtf8(raw);
  const body = binary ? raw.toString("base64") : raw.toString("utf8");
  const event: APIGatewayProxyEvent = {
    resource: "/{proxy+}",
    path: url.pathname,
    httpMethod: req.method ?? "GET",
    headers,
    multiValueHeaders,
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: Object.keys(multiQuery).length ? multiQuery : null,
    pathParameters: { proxy: url.pathname.replace(/^\//, "") },
    stageVariables: null,
    body: truncated ? null : body || null,
    isBase64Encoded: binary,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      authorizer: undefined,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: req.method ?? "GET",
      identity: {
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
      } as APIGatewayProxyEvent["requestContext"]["identity"],
      path: url.pathname,
      stage: "local",
      requestId,
      requestTimeEpoch: Date.now(),
      resourceId: "local",
      resourcePath: "/{proxy+}",
    },
  };
  const context = {
    awsRequestId: requestId,
    functionName: "local-api",
    functionVersion: "$LATEST",
    invokedFunctionArn: "arn:aws:lambda:local:000000000000:function:local-api",
    memoryLimitInMB: "512",
    logGroupName: "local",
    logStreamName: "local",
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => 30_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  } as Context;
  const result = await handler(event, context);
  const outHeaders: Record<string, string | string[]> = { ...(result.headers as Record<string, string>) };
  for (const [k, v] of Object.entries(result.multiValueHeaders ?? {})) outHeaders[k] = v.map(String);
  const payload = result.isBase64Encoded
    ? Buffer.from(result.body, "base64")
    : Buffer.from(result.body ?? "");
  res.writeHead(result.statusCode, outHeaders);
  res.end(payload);
}

function groupEntries(entries: [string, string][]): Record<string, string[]> {
  return Object.fromEntries(
    [...Map.groupBy(entries, ([k]) => k)].map(([k, group]) => [k, group.map(([, v]) => v)]),
  );
}
