/**
 * The cloud endpoint: one HTTP server on loopback that every function's SDK reaches
 * (AWS_ENDPOINT_URL). Each call is authenticated (SigV4 with the secret the calling function
 * was given), authorized (the function's role policies, iam.ts), then served: DynamoDB by
 * DynamoDB Local, SQS, KMS and Secrets Manager by the local services, Step Functions and the
 * API Gateway management calls by their handlers. A refusal is the AccessDeniedException AWS
 * sends; every refusal is logged and counted. `GET /_form/stats` reports the counts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AwsRequest, type AwsResponse, type AwsServiceHandler, awsJsonError } from "../contracts.ts";
import type { CredentialStore } from "../lambda/credentials.ts";
import type { Assembly } from "../template.ts";
import { authorizationsOf, keySchemas } from "./actions.ts";
import type { IamChecker } from "./iam.ts";
import { parseAuthorization, verifySignature } from "./sigv4.ts";

export interface Refusal {
  at: string;
  caller: string;
  action: string;
  resource: string;
  message: string;
}

export interface CloudStats {
  /** Calls served, by `service:Operation`. */
  calls: Record<string, number>;
  refusals: Refusal[];
}

export interface CloudEndpoint {
  url: string;
  stats(): CloudStats;
  /** Serves a service (`states`, `apigateway`, ...) with this handler. */
  register(service: string, handler: AwsServiceHandler): void;
  /** Extra JSON the stats page shows (Lambda cold starts, queue depths...). */
  extraStats(fn: () => object): void;
  /** A control call for tests and chaos: `POST /_form/<name>?<query>` answers what `fn` returns. */
  control(name: string, fn: (query: URLSearchParams) => object | Promise<object>): void;
  close(): Promise<void>;
}

export interface CloudOptions {
  assembly: Assembly;
  credentials: CredentialStore;
  iam: IamChecker;
  /** Fills what authorization needs that only a service knows (the key of a KMS ciphertext). */
  prepare?: (service: string, target: string | undefined, body: Record<string, unknown>) => void;
  log: (line: string) => void;
}

export async function startCloudEndpoint(options: CloudOptions): Promise<CloudEndpoint> {
  const handlers = new Map<string, AwsServiceHandler>();
  const keys = keySchemas(options.assembly);
  const stats: CloudStats = { calls: {}, refusals: [] };
  const extras: (() => object)[] = [];
  const controls = new Map<string, (query: URLSearchParams) => object | Promise<object>>();

  const serve = async (req: IncomingMessage, raw: Buffer): Promise<AwsResponse> => {
    const headers = Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]),
    );
    if (req.method === "GET" && req.url === "/_form/stats") {
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...stats, ...Object.assign({}, ...extras.map((f) => f())) }),
      };
    }
    const control =
      req.method === "POST" && req.url?.startsWith("/_form/") ? new URL(req.url, "http://x") : undefined;
    const controlFn = control && controls.get(control.pathname.slice("/_form/".length));
    if (control && controlFn) {
      return {
        status: 200,
        headers: { "content-type": "application/json" },
        body: JSON.stringify(await controlFn(control.searchParams)),
      };
    }
    const credential = parseAuthorization(headers["authorization"]);
    if (!credential)
      return awsJsonError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
    const caller = options.credentials.byAccessKey(credential.accessKeyId);
    if (!caller || headers["x-amz-security-token"] !== caller.sessionToken) {
      return awsJsonError(
        400,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
      );
    }
    const request = { method: req.method ?? "GET", url: req.url ?? "/", headers, body: raw };
    if (!verifySignature(request, credential, caller.secretAccessKey)) {
      return awsJsonError(
        400,
        "InvalidSignatureException",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
      );
    }
    const service = credential.service;
    const target = headers["x-amz-target"];
    let body: Record<string, unknown> = {};
    if (raw.length > 0 && (headers["content-type"] ?? "").includes("json")) {
      try {
        body = JSON.parse(raw.toString()) as Record<string, unknown>;
      } catch {
        return awsJsonError(400, "SerializationException", "The request body is not valid JSON");
      }
    }
    options.prepare?.(service, target, body);
    const path = request.url.split("?")[0] ?? "/";
    const operation = target ? target.slice(target.indexOf(".") + 1) : `${request.method} ${path}`;
    for (const authorization of authorizationsOf(service, target, request.method, path, body, keys)) {
      const decision = await options.iam.check(caller.roleArn, caller.functionId, authorization);
      if (!decision.allowed) {
        const refusal = {
          at: new Date().toISOString(),
          caller: caller.functionId,
          action: authorization.action,
          resource: authorization.resource,
          message: decision.message ?? "",
        };
        stats.refusals.push(refusal);
        options.log(`IAM refused ${caller.functionId}: ${refusal.message}`);
        return accessDenied(service, refusal.message);
      }
    }
    const handler = handlers.get(service);
    if (!handler)
      return awsJsonError(400, "UnknownOperationException", `The AWS form does not serve ${service}`);
    stats.calls[`${service}:${operation}`] = (stats.calls[`${service}:${operation}`] ?? 0) + 1;
    const awsRequest: AwsRequest = {
      service,
      method: request.method,
      url: request.url,
      headers,
      body: raw,
      caller: caller.functionId,
      ...(target ? { target } : {}),
    };
    return await handler(awsRequest);
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      serve(req, Buffer.concat(chunks))
        .catch((err: unknown) => {
          options.log(
            `cloud endpoint error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
          );
          return awsJsonError(
            500,
            "InternalFailure",
            "The request processing has failed because of an unknown error.",
          );
        })
        .then((response) => {
          res.writeHead(response.status, response.headers);
          res.end(response.body);
        });
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => stats,
    register: (service, handler) => handlers.set(service, handler),
    extraStats: (fn) => extras.push(fn),
    control: (name, fn) => controls.set(name, fn),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function accessDenied(service: string, message: string): AwsResponse {
  if (service === "apigateway") {
    return {
      status: 403,
      headers: { "content-type": "application/json", "x-amzn-errortype": "AccessDeniedException" },
      body: JSON.stringify({ Message: message }),
    };
  }
  const type =
    service === "dynamodb"
      ? "com.amazonaws.dynamodb.v20120810#AccessDeniedException"
      : "AccessDeniedException";
  return awsJsonError(400, type, message);
}
