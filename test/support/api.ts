/**
 * Drives the composed API in process with API Gateway-shaped events, against the real store on
 * dynalite, and validates every response against the OpenAPI document the API itself serves.
 */
import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { type ApiDependencies, type ApiHandler, createApi } from "../../functions/api/app.ts";
import { TableIdempotencyLayer } from "../../functions/api/idempotency.ts";
import { hashApiKey } from "../../functions/domain/api-keys.ts";
import {
  type ExecutionDescription,
  executionName,
  type WorkflowEngine,
  type WorkflowInput,
  type WorkflowKind,
} from "../../functions/domain/engine.ts";
import { type FreshTable, freshTable } from "./dynamodb.ts";

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

/** A JSON Schema 2020-12 validator with formats, as the OpenAPI 3.1 document needs. */
export function createAjv(): Ajv2020 {
  return addFormats(new Ajv2020({ strict: false, allErrors: true }));
}

/**
 * The workflow engine port, recording its starts (the one fake: the real engines run whole
 * workflows against Microsoft 365, which is not what these tests are about).
 */
export class RecordingEngine implements WorkflowEngine {
  readonly consistentDescribe = true;
  readonly starts: { kind: WorkflowKind; input: WorkflowInput }[] = [];
  /** Tenants whose start is refused (a throttled StartExecution). */
  readonly refuse = new Set<string>();
  /** While set, starts wait for it (to hold a request in progress). */
  gate: Promise<void> | undefined;
  /** Starts waiting at the gate now. */
  held = 0;

  async start(kind: WorkflowKind, input: WorkflowInput): Promise<void> {
    if (this.gate) {
      this.held++;
      await this.gate.finally(() => this.held--);
    }
    if (this.refuse.has(input.tenantId)) throw new Error("ThrottlingException: Rate exceeded");
    this.starts.push({ kind, input });
  }

  /** A started execution stays RUNNING here (this engine runs nothing). */
  async describe(kind: WorkflowKind, input: WorkflowInput): Promise<ExecutionDescription | undefined> {
    const started = this.starts.some(
      (s) => s.kind === kind && s.input.tenantId === input.tenantId && s.input.run === input.run,
    );
    return started ? { name: executionName(kind, input), status: "RUNNING", startedAt: "" } : undefined;
  }

  startsFor(tenantId: string) {
    return this.starts.filter((s) => s.input.tenantId === tenantId);
  }
}

/** A Powertools logger that keeps what it would print, children included. */
export class CapturingLogger extends Logger {
  readonly lines: string[];
  constructor(options: ConstructorParameters<typeof Logger>[0] = {}, lines: string[] = []) {
    super({ serviceName: "api-test", ...options });
    this.lines = lines;
  }
  protected override createLogger(options?: ConstructorParameters<typeof Logger>[0]): Logger {
    return new CapturingLogger(options, this.lines);
  }
  protected override printLog(_level: number, log: Parameters<Logger["printLog"]>[1]): void {
    this.lines.push(JSON.stringify(log.getAttributes()));
  }
}

export interface CallOptions {
  /** API key for `Authorization: Bearer`. */
  key?: string;
  headers?: Record<string, string>;
  /** An object is sent as JSON; a string as is. */
  body?: unknown;
  contentType?: string | null;
  query?: Record<string, string | string[]>;
  base64?: boolean;
  /** A `requestContext.authorizer` as the AWS authorizer would set it. */
  authorizer?: Record<string, string>;
}

export function apiEvent(method: string, path: string, options: CallOptions = {}): APIGatewayProxyEvent {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers["Authorization"] = `Bearer ${options.key}`;
  let body: string | null = null;
  if (options.body !== undefined) {
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
    if (options.contentType !== null) headers["Content-Type"] = options.contentType ?? "application/json";
  }
  if (body !== null && options.base64) body = Buffer.from(body, "utf8").toString("base64");
  // Own properties even for keys like `__proto__`, as API Gateway's JSON event has them.
  const entries = Object.entries(options.query ?? {}).map(([name, value]) => [name, [value].flat()] as const);
  const single: Record<string, string> = Object.fromEntries(entries.map(([n, v]) => [n, v.at(-1)!]));
  const multi: Record<string, string[]> = Object.fromEntries(entries);
  const requestId = randomUUID();
  return {
    httpMethod: method,
    path,
    resource: "/{proxy+}",
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    queryStringParameters: options.query ? single : null,
    multiValueQueryStringParameters: options.query ? multi : null,
    pathParameters: null,
    stageVariables: null,
    body,
    isBase64Encoded: options.base64 ?? false,
    requestContext: {
      requestId,
      ...(options.authorizer && { authorizer: options.authorizer }),
    } as unknown as APIGatewayProxyEvent["requestContext"],
  };
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string>;
  // biome-ignore lint/suspicious/noExplicitAny: test responses are read freely
  body: any;
  raw: APIGatewayProxyResult;
}

type JsonObject = Record<string, unknown>;

/** Validates responses against the OpenAPI document's response schemas. */
export class ResponseValidator {
  readonly #ajv = createAjv();
  readonly #doc: JsonObject;
  readonly #ops: { method: string; matcher: RegExp; op: JsonObject; template: string }[] = [];

  constructor(doc: JsonObject) {
    this.#doc = doc;
    this.#ajv.addSchema({ ...doc, $id: "https://api.test/openapi.json" });
    for (const [template, item] of Object.entries(doc.paths as Record<string, Record<string, JsonObject>>)) {
      const matcher = new RegExp(`^${template.replace(/\{[^}]+\}/g, "[^/]+")}$`);
      for (const [method, op] of Object.entries(item)) {
        this.#ops.push({ method: method.toUpperCase(), matcher, op, template });
      }
    }
  }

  /** Compiles every component schema (the document is valid JSON Schema 2020-12). */
  compileAll(): string[] {
    const names = Object.keys((this.#doc.components as JsonObject).schemas as JsonObject);
    for (const name of names) this.#schema(`#/components/schemas/${name}`);
    return names;
  }

  #schema(pointer: string) {
    const validate = this.#ajv.getSchema(`https://api.test/openapi.json${pointer}`);
    if (!validate) throw new Error(`no schema at ${pointer}`);
    return validate;
  }

  validate(method: string, path: string, response: ApiResponse): void {
    const pathOnly = path.length > 1 ? path.replace(/\/+$/, "") : path;
    const found = this.#ops.find((o) => o.method === method && o.matcher.test(pathOnly));
    const contentType = response.headers["content-type"];
    if (!found) {
      if (![404, 405, 401].includes(response.status)) {
        throw new Error(`${method} ${path}: ${response.status} from an undocumented operation`);
      }
      this.#check("#/components/schemas/Problem", response, `${method} ${path}`);
      if (contentType !== "application/problem+json") throw new Error(`${method} ${path}: not a problem`);
      return;
    }
    const responses = found.op.responses as Record<string, JsonObject>;
    let spec = responses[String(response.status)];
    if (!spec) {
      throw new Error(`${method} ${found.template}: status ${response.status} is not documented`);
    }
    const ref = spec.$ref as string | undefined;
    if (ref)
      spec = (this.#doc.components as Record<string, Record<string, JsonObject>>).responses![
        ref.split("/").at(-1)!
      ]!;
    const content = spec.content as Record<string, { schema: JsonObject }> | undefined;
    if (!content) {
      if (response.raw.body !== "")
        throw new Error(`${method} ${found.template}: body on a bodyless response`);
      return;
    }
    if (!contentType || !content[contentType]) {
      throw new Error(
        `${method} ${found.template} ${response.status}: content-type ${contentType} not documented`,
      );
    }
    const methodKey = method.toLowerCase();
    const escaped = found.template.replace(/~/g, "~0").replace(/\//g, "~1");
    const pointer = ref
      ? `#/components/responses/${ref.split("/").at(-1)}/content/${contentType.replace("/", "~1")}/schema`
      : `#/paths/${escaped}/${methodKey}/responses/${response.status}/content/${contentType.replace("/", "~1")}/schema`;
    this.#check(pointer, response, `${method} ${found.template}`);
  }

  #check(pointer: string, response: ApiResponse, what: string) {
    const validate = this.#schema(pointer);
    if (!validate(response.body)) {
      throw new Error(
        `${what} ${response.status}: response does not match the document: ${this.#ajv.errorsText(validate.errors)}\n${response.raw.body.slice(0, 500)}`,
      );
    }
  }
}

export interface TestApi extends FreshTable {
  api: ApiHandler;
  engine: RecordingEngine;
  logger: CapturingLogger;
  opsKey: string;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  /** Invokes without validating (for the validator's own checks). */
  invoke(event: APIGatewayProxyEvent): Promise<ApiResponse>;
  validator: ResponseValidator;
  /** A new partner and its key. */
  newPartner(name?: string): Promise<{ partnerId: string; key: string }>;
  /** Another API instance on the same table with other options. */
  withOptions(
    options: Partial<ApiDependencies>,
  ): (method: string, path: string, o?: CallOptions) => Promise<ApiResponse>;
}

function toResponse(raw: APIGatewayProxyResult): ApiResponse {
  const headers = Object.fromEntries(
    Object.entries(raw.headers ?? {}).map(([k, v]) => [k.toLowerCase(), String(v)]),
  );
  let body: unknown;
  if (raw.body) {
    try {
      body = JSON.parse(raw.body);
    } catch {
      throw new Error(`response body is not JSON: ${raw.body.slice(0, 200)}`);
    }
  }
  return { status: raw.statusCode, headers, body, raw };
}

export interface TestApiOptions {
  storeOptions?: Parameters<typeof freshTable>[0];
  /** More dependencies, built on the fresh table (e.g. a webhook service). */
  extra?: (table: FreshTable) => Partial<ApiDependencies>;
}

export async function startTestApi(options: TestApiOptions = {}): Promise<TestApi> {
  const table = await freshTable(options.storeOptions);
  const engine = new RecordingEngine();
  const logger = new CapturingLogger();
  const opsKey = `ops-${randomUUID()}`;
  const base: ApiDependencies = {
    store: table.store,
    engine,
    opsKeyHash: hashApiKey(opsKey),
    logger,
    idempotency: new TableIdempotencyLayer({ client: table.client, tableName: table.tableName }),
    ...options.extra?.(table),
  };
  const api = createApi(base);
  const invoke = async (event: APIGatewayProxyEvent) => toResponse(await api(event));
  const docResponse = await invoke(apiEvent("GET", "/v1/openapi.json", { key: opsKey }));
  if (docResponse.status !== 200) throw new Error(`openapi.json: ${docResponse.status}`);
  const validator = new ResponseValidator(docResponse.body);
  const callWith =
    (handler: ApiHandler) =>
    async (method: string, path: string, options: CallOptions = {}) => {
      const response = toResponse(await handler(apiEvent(method, path, options)));
      validator.validate(method, path, response);
      return response;
    };
  const call = callWith(api);
  return {
    ...table,
    api,
    engine,
    logger,
    opsKey,
    call,
    invoke,
    validator,
    async newPartner(name = `partner-${randomUUID().slice(0, 8)}`) {
      const res = await call("POST", "/v1/partners", { key: opsKey, body: { name } });
      if (res.status !== 201) throw new Error(`create partner: ${res.status} ${res.raw.body}`);
      return { partnerId: res.body.partnerId as string, key: res.body.apiKey as string };
    },
    withOptions: (options) => callWith(createApi({ ...base, ...options })),
  };
}

/** A fresh tenant GUID per call (random, so that test files never collide). */
export function newTenantId(): string {
  return randomUUID();
}

export function onboardingBody(tenantId: string, overrides: Record<string, unknown> = {}) {
  return {
    tenantId,
    customerName: "contoso",
    region: "us",
    ndrAddress: "admin@contoso.example",
    ...overrides,
  };
}

export function splitGroups(members = ["alice@contoso.example"]) {
  return {
    eu: { name: "Journal EU users", primarySmtpAddress: "journal-eu@contoso.example", members },
    us: { name: "Journal US users", primarySmtpAddress: "journal-us@contoso.example", members },
  };
}
