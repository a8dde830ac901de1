/**
 * Lambda here: every AWS::Lambda::Function of the template runs its bundled asset in
 * Lambda-like environments (environment.ts), with the template's Environment resolved plus
 * what Lambda sets. Warm environments are reused; a new one starts cold when all are busy, up to
 * the function's ReservedConcurrentExecutions, or, for the others, the account's unreserved
 * concurrency (LAMBDA_ACCOUNT_CONCURRENCY, default 1000, less all reservations); past it the
 * invocation is refused (TooManyRequestsException), never queued.
 */
import { join } from "node:path";
import { type Invoke, type InvokeResult, LOCAL_REGION } from "../contracts.ts";
import type { Assembly } from "../template.ts";
import type { CredentialStore } from "./credentials.ts";
import { LambdaEnvironment } from "./environment.ts";
import { functionLogger } from "./logs.ts";

export interface LambdaServiceOptions {
  assembly: Assembly;
  credentials: CredentialStore;
  /** The cloud endpoint (AWS_ENDPOINT_URL of every function). */
  cloudUrl: string;
  /** Variables set on every function over the template's (the M365 endpoints of this machine, ...). */
  overrides?: (functionId: string, env: Record<string, string>) => Record<string, string>;
  /** @default process.env.LAMBDA_ACCOUNT_CONCURRENCY ?? 1000 */
  accountConcurrency?: number;
  /** Node 24 (the project's `node` devDependency). */
  nodePath: string;
  logLevel?: string;
  /** How long an idle environment is kept warm. @default 10 minutes */
  idleMs?: number;
}

interface FunctionState {
  id: string;
  name: string;
  arn: string;
  reserved: number | undefined;
  memoryMb: number;
  timeoutSeconds: number;
  env: Record<string, string>;
  taskRoot: string;
  idle: { environment: LambdaEnvironment; since: number }[];
  busy: Set<LambdaEnvironment>;
  /** Invocations in progress (starting environments included). */
  inflight: number;
  coldStarts: number;
  invocations: number;
  throttles: number;
  /** Sum of the invocations' durations, each rounded up to 1 ms as Lambda bills (init excluded). */
  billedMs: number;
  /** Chaos: how many of the next crashes answer without an error type, and their message. */
  untyped: { times: number; message: string };
}

export interface LambdaService {
  invoke: Invoke;
  /** Per function logical id: cold starts, invocations, throttles, environments alive. */
  stats(): Record<
    string,
    { coldStarts: number; invocations: number; throttles: number; environments: number; billedMs: number }
  >;
  /** The logical id of a function given by logical id, name or ARN (undefined when unknown). */
  functionId(ref: string): string | undefined;
  /** Kills the environments of a function (chaos: the next invocation starts cold). */
  killEnvironments(functionId: string): number;
  /**
   * `aws lambda update-function-configuration --timeout`: invocations from now on run in new
   * environments with this Timeout (the warm ones are retired, as after any configuration change).
   */
  setTimeout(functionId: string, seconds: number): boolean;
  /**
   * Chaos: the function's next `times` crashes (an environment that dies mid-invocation) answer
   * with a message and no error type, as Lambda's older runtimes did (`Process exited before
   * completing request`); Step Functions reports that as `Lambda.Unknown`.
   */
  failWithoutErrorType(functionId: string, times: number, message: string): boolean;
  close(): Promise<void>;
}

export function createLambdaService(options: LambdaServiceOptions): LambdaService {
  const { assembly } = options;
  const functions = new Map<string, FunctionState>();
  const byName = new Map<string, string>();
  for (const [id, resource] of assembly.ofType("AWS::Lambda::Function")) {
    const p = assembly.resolve(resource.Properties ?? {}) as Record<string, unknown>;
    const state = describeFunction(id, p, options);
    functions.set(id, state);
    byName.set(state.name, id);
    byName.set(state.arn, id);
  }
  const accountLimit =
    options.accountConcurrency ?? Number(process.env["LAMBDA_ACCOUNT_CONCURRENCY"] ?? 1000);
  const reservedTotal = [...functions.values()].reduce((sum, f) => sum + (f.reserved ?? 0), 0);
  let unreservedBusy = 0;
  const idleMs = options.idleMs ?? 10 * 60_000;
  const reaper = setInterval(() => {
    const now = Date.now();
    for (const f of functions.values()) {
      f.idle = f.idle.filter(({ environment, since }) => {
        const keep = now - since < idleMs && environment.alive;
        if (!keep) environment.kill();
        return keep;
      });
    }
  }, 30_000);
  reaper.unref();

  const functionId = (ref: string): string | undefined => {
    if (functions.has(ref)) return ref;
    const unqualified = ref.replace(/^(arn:[^:]+:lambda:[^:]+:[^:]+:function:[^:]+):[^:]+$/, "$1");
    return byName.get(ref) ?? byName.get(unqualified);
  };

  const invoke: Invoke = async (ref, event) => {
    const id = functionId(ref);
    const f = id ? functions.get(id) : undefined;
    if (!f)
      return {
        ok: false,
        errorType: "ResourceNotFoundException",
        errorMessage: `Function not found: ${ref}`,
      };
    const limit = f.reserved ?? accountLimit - reservedTotal;
    const inUse = f.reserved !== undefined ? f.inflight : unreservedBusy;
    if (inUse >= limit) {
      f.throttles++;
      return {
        ok: false,
        refused: true,
        errorType: "TooManyRequestsException",
        errorMessage: "Rate Exceeded.",
      };
    }
    f.invocations++;
    f.inflight++;
    if (f.reserved === undefined) unreservedBusy++;
    let environment = f.idle.pop()?.environment;
    try {
      let cold: InvokeResult | undefined;
      if (!environment?.alive) {
        f.coldStarts++;
        environment = new LambdaEnvironment({
          nodePath: options.nodePath,
          taskRoot: f.taskRoot,
          env: f.env,
          memoryMb: f.memoryMb,
          timeoutSeconds: f.timeoutSeconds,
          onLine: functionLogger(f.name, options.logLevel ?? process.env["LOG_LEVEL"] ?? "INFO"),
        });
        cold = await environment.ready;
      }
      f.busy.add(environment);
      const began = performance.now();
      const result = untypedIfChosen(f, cold ?? (await environment.invoke(event)));
      f.billedMs += Math.ceil(performance.now() - began);
      f.busy.delete(environment);
      if (environment.alive) f.idle.push({ environment, since: Date.now() });
      return result;
    } finally {
      if (environment) f.busy.delete(environment);
      f.inflight--;
      if (f.reserved === undefined) unreservedBusy--;
    }
  };

  return {
    invoke,
    functionId,
    stats: () => Object.fromEntries([...functions.values()].map((f) => [f.id, statsOf(f)])),
    killEnvironments: (id) => {
      const f = functions.get(id);
      if (!f) return 0;
      const all = [...f.idle.map((i) => i.environment), ...f.busy];
      for (const e of all) e.kill();
      f.idle = [];
      return all.length;
    },
    setTimeout: (id, seconds) => setFunctionTimeout(functions.get(id), seconds),
    failWithoutErrorType: (id, times, message) => {
      const f = functions.get(id);
      if (f) f.untyped = { times, message };
      return f !== undefined;
    },
    close: async () => {
      clearInterval(reaper);
      for (const f of functions.values()) {
        for (const { environment } of f.idle) environment.kill();
        for (const environment of f.busy) environment.kill();
        f.idle = [];
      }
    },
  };
}

function statsOf(f: FunctionState) {
  const { coldStarts, invocations, throttles, billedMs } = f;
  return { coldStarts, invocations, throttles, billedMs, environments: f.idle.length + f.busy.size };
}

/** A new Timeout (1 to 900 s) for the invocations from now on, in new environments. */
function setFunctionTimeout(f: FunctionState | undefined, seconds: number): boolean {
  if (!f || !(seconds >= 1 && seconds <= 900)) return false;
  f.timeoutSeconds = seconds;
  for (const { environment } of f.idle) environment.kill();
  f.idle = [];
  return true;
}

/** A crash answered without an error type while the chaos control asks for it. */
function untypedIfChosen(f: FunctionState, result: InvokeResult): InvokeResult {
  if (result.ok || result.errorType !== "Runtime.ExitError" || f.untyped.times <= 0) return result;
  f.untyped.times--;
  return { ok: false, errorType: "", errorMessage: f.untyped.message };
}

function describeFunction(
  id: string,
  p: Record<string, unknown>,
  options: LambdaServiceOptions,
): FunctionState {
  const { assembly } = options;
  const name = assembly.ref(id);
  const arn = assembly.getAtt(id, "Arn");
  const memoryMb = Number(p["MemorySize"] ?? 128);
  const timeoutSeconds = Number(p["Timeout"] ?? 3);
  const roleArn = String(p["Role"]);
  const credentials = options.credentials.issue(id, roleArn);
  const templateEnv = ((p["Environment"] as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
    {}) as Record<string, unknown>;
  const taskRoot = assembly.assetDir(id);
  const handler = String(p["Handler"] ?? "index.handler");
  let env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(templateEnv).map(([k, v]) => [k, String(v)])),
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: name,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${name}`,
    AWS_LAMBDA_LOG_STREAM_NAME: "local",
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    AWS_XRAY_CONTEXT_MISSING: "LOG_ERROR",
    AWS_XRAY_DAEMON_ADDRESS: "127.0.0.1:2000",
    AWS_LAMBDA_RUNTIME_API: "127.0.0.1:9001",
    LAMBDA_TASK_ROOT: taskRoot,
    LAMBDA_RUNTIME_DIR: join(taskRoot),
    LOCAL_FUNCTION_ARN: arn,
    _HANDLER: handler,
    TZ: "UTC",
    LANG: "en_US.UTF-8",
    PATH: process.env["PATH"] ?? "/usr/bin:/bin",
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    AWS_SESSION_TOKEN: credentials.sessionToken,
    AWS_ENDPOINT_URL: options.cloudUrl,
    ...(process.env["NODE_EXTRA_CA_CERTS"]
      ? { NODE_EXTRA_CA_CERTS: process.env["NODE_EXTRA_CA_CERTS"] }
      : {}),
  };
  if (options.overrides) env = { ...env, ...options.overrides(id, env) };
  const reservedRaw = p["ReservedConcurrentExecutions"];
  return {
    id,
    name,
    arn,
    reserved: reservedRaw === undefined ? undefined : Number(reservedRaw),
    memoryMb,
    timeoutSeconds,
    env,
    taskRoot,
    idle: [],
    busy: new Set(),
    inflight: 0,
    billedMs: 0,
    coldStarts: 0,
    invocations: 0,
    throttles: 0,
    untyped: { times: 0, message: "" },
  };
}
