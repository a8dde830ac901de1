/**
 * The runtime interface of one Lambda-like environment (a child process of Node 24): loads the
 * function's bundle from LAMBDA_TASK_ROOT (`_HANDLER`, e.g. `index.handler`) once (the init
 * phase), then answers invocations sent over IPC one at a time, as Lambda's Node.js runtime
 * does: the event and the result through JSON, a thrown error as {errorType, errorMessage,
 * trace}. Timeouts and crashes are the parent's business (it kills this process).
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

interface InvokeMessage {
  type: "invoke";
  id: string;
  event: string;
  deadline: number;
}

type Handler = (event: unknown, context: object) => Promise<unknown>;

const send = (message: object) =>
  new Promise<void>((resolve) => {
    process.send?.(message, undefined, undefined, () => resolve());
  });

function errorOf(err: unknown, fallbackType = "Error") {
  if (err instanceof Error) {
    return {
      errorType: err.name || fallbackType,
      errorMessage: err.message,
      trace: (err.stack ?? "").split("\n"),
    };
  }
  return { errorType: fallbackType, errorMessage: String(err), trace: [] as string[] };
}

async function loadHandler(): Promise<Handler> {
  const root = process.env["LAMBDA_TASK_ROOT"] ?? process.cwd();
  const spec = process.env["_HANDLER"] ?? "index.handler";
  const dot = spec.lastIndexOf(".");
  const [file, name] = [spec.slice(0, dot), spec.slice(dot + 1)];
  const candidates = [".mjs", ".js", ".cjs"].map((ext) => join(root, `${file}${ext}`));
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    const err = new Error(`Cannot find module '${file}'`);
    err.name = "Runtime.ImportModuleError";
    throw err;
  }
  const module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  const handler = module[name];
  if (typeof handler !== "function") {
    const err = new Error(`${spec} is undefined or not exported`);
    err.name = "Runtime.HandlerNotFound";
    throw err;
  }
  return handler as Handler;
}

function contextFor(message: InvokeMessage): object {
  const env = process.env;
  const name = env["AWS_LAMBDA_FUNCTION_NAME"] ?? "";
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: env["AWS_LAMBDA_FUNCTION_VERSION"] ?? "$LATEST",
    invokedFunctionArn: env["LOCAL_FUNCTION_ARN"] ?? name,
    memoryLimitInMB: env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] ?? "128",
    awsRequestId: message.id,
    logGroupName: env["AWS_LAMBDA_LOG_GROUP_NAME"] ?? `/aws/lambda/${name}`,
    logStreamName: env["AWS_LAMBDA_LOG_STREAM_NAME"] ?? "local",
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    done: () => undefined,
    succeed: () => undefined,
    fail: () => undefined,
  };
}

function traceId(): string {
  const hex = (n: number) => randomBytes(n).toString("hex");
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${hex(12)};Parent=${hex(8)};Sampled=0`;
}

let handler: Handler;
try {
  handler = await loadHandler();
} catch (err) {
  await send({ type: "init-error", ...errorOf(err, "Runtime.ImportModuleError") });
  process.exit(1);
}

process.on("message", (raw: InvokeMessage) => {
  if (raw?.type !== "invoke") return;
  const run = async () => {
    try {
      const event = JSON.parse(raw.event) as unknown;
      // As Lambda's runtime sets it per invocation (from Lambda-Runtime-Trace-Id); not sampled:
      // the tracer finds its context and sends no segment.
      process.env["_X_AMZN_TRACE_ID"] = traceId();
      const result = await handler(event, contextFor(raw));
      await send({ type: "result", id: raw.id, payload: JSON.stringify(result ?? null) });
    } catch (err) {
      await send({ type: "error", id: raw.id, ...errorOf(err) });
    }
  };
  void run();
});
process.on("unhandledRejection", (reason) => {
  // Lambda's Node.js runtime exits on an unhandled rejection (Runtime.ExitError for the invocation).
  process.stderr.write(`Unhandled rejection: ${reason instanceof Error ? reason.stack : String(reason)}\n`);
  process.exit(128);
});
await send({ type: "ready" });
