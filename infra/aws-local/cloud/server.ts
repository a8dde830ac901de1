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
import type { CredentialStore, FunctionCredentials } from "../lambda/credentials.ts";
import type { Assembly } from "../template.ts";
import { authorizationsOf, keySchemas } from "./actions.ts";
import type { IamChecker } from "./iam.ts";
import { type Credential, parseAuthorization, verifySignature } from "./sigv4.ts";

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
  /** Chaos: sees each authorized call before its service; an answer it gives is sent instead. */
  intercept(fn: (request: AwsRequest) => AwsResponse | undefined): void;
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

/** What the endpoint keeps: the services' handlers, the counts, the stats page's extras, the controls. */
interface EndpointState {
  options: CloudOptions;
  handlers: Map<string, AwsServiceHandler>;
  keys: ReturnType<typeof keySchemas>;
  stats: CloudStats;
  extras: (() => object)[];
  controls: Map<string, (query: URLSearchParams) => object | Promise<object>>;
  interceptors: ((request: AwsRequest) => AwsResponse | undefined)[];
}

export async function startCloudEndpoint(options: CloudOptions): Promise<CloudEndpoint> {
  const state: EndpointState = {
    options,
    handlers: new Map(),
    keys: keySchemas(options.assembly),
    stats: { calls: {}, refusals: [] },
    extras: [],
    controls: new Map(),
    interceptors: [],
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      serve(state, req, Buffer.concat(chunks))
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
    stats: () => state.stats,
    register: (service, handler) => state.handlers.set(service, handler),
    extraStats: (fn) => state.extras.push(fn),
    intercept: (fn) => state.interceptors.push(fn),
    control: (name, fn) => state.controls.set(name, fn),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** One call: the form's own pages, else authenticated, authorized, counted and handed to its service. */
async function serve(state: EndpointState, req: IncomingMessage, raw: Buffer): Promise<AwsResponse> {
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : (v ?? "")]),
  );
  const page = await formPage(state, req);
  if (page) return page;
  const signed = authenticate(state.options, req, headers, raw);
  if ("status" in signed) return signed;
  const { caller, credential, request } = signed;
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
  state.options.prepare?.(service, target, body);
  const path = request.url.split("?")[0] ?? "/";
  const operation = target ? target.slice(target.indexOf(".") + 1) : `${request.method} ${path}`;
  const refused = await authorize(state, caller, { service, target, method: request.method, path, body });
  if (refused) return refused;
  const handler = state.handlers.get(service);
  if (!handler)
    return awsJsonError(400, "UnknownOperationException", `The AWS form does not serve ${service}`);
  state.stats.calls[`${service}:${operation}`] = (state.stats.calls[`${service}:${operation}`] ?? 0) + 1;
  const awsRequest: AwsRequest = {
    service,
    method: request.method,
    url: request.url,
    headers,
    body: raw,
    caller: caller.functionId,
    ...(target ? { target } : {}),
  };
  for (const intercept of state.interceptors) {
    const answer = intercept(awsRequest);
    if (answer) return answer;
  }
  return await handler(awsRequest);
}

/** `GET /_form/stats` and `POST /_form/<control>`; undefined for any other request. */
async function formPage(state: EndpointState, req: IncomingMessage): Promise<AwsResponse | undefined> {
  if (req.method === "GET" && req.url === "/_form/stats") {
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ ...state.stats, ...Object.assign({}, ...state.extras.map((f) => f())) }),
    };
  }
  const control =
    req.method === "POST" && req.url?.startsWith("/_form/") ? new URL(req.url, "http://x") : undefined;
  const controlFn = control && state.controls.get(control.pathname.slice("/_form/".length));
  if (control && controlFn) {
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(await controlFn(control.searchParams)),
    };
  }
  return undefined;
}

/** The calling function, by its access key, session token and SigV4 signature; else AWS's error. */
function authenticate(
  options: CloudOptions,
  req: IncomingMessage,
  headers: Record<string, string>,
  raw: Buffer,
):
  | AwsResponse
  | {
      caller: FunctionCredentials;
      credential: Credential;
      request: { method: string; url: string; headers: Record<string, string>; body: Buffer };
    } {
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
  return { caller, credential, request };
}

/** Every authorization the call needs, checked against the caller's role; the first refusal is logged and answered. */
async function authorize(
  state: EndpointState,
  caller: FunctionCredentials,
  call: {
    service: string;
    target: string | undefined;
    method: string;
    path: string;
    body: Record<string, unknown>;
  },
): Promise<AwsResponse | undefined> {
  const { service, target, method, path, body } = call;
  for (const authorization of authorizationsOf(service, target, method, path, body, state.keys)) {
    const decision = await state.options.iam.check(caller.roleArn, caller.functionId, authorization);
    if (!decision.allowed) {
      const refusal = {
        at: new Date().toISOString(),
        caller: caller.functionId,
        action: authorization.action,
        resource: authorization.resource,
        message: decision.message ?? "",
      };
      state.stats.refusals.push(refusal);
      state.options.log(`IAM refused ${caller.functionId}: ${refusal.message}`);
      return accessDenied(service, refusal.message);
    }
  }
  return undefined;
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
