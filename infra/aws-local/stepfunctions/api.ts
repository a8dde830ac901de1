/**
 * The Step Functions JSON protocol (awsJson1_0, `X-Amz-Target: AWSStepFunctions.<Action>`):
 * StartExecution, DescribeExecution, StopExecution, ListExecutions, GetExecutionHistory, with
 * Step Functions' errors.
 * StartExecution of a Standard machine is idempotent for a RUNNING execution of the same name
 * and input; any other reuse of a name within 90 days is ExecutionAlreadyExists.
 */
import { type AwsRequest, type AwsResponse, type AwsServiceHandler, awsJsonError } from "../contracts.ts";
import { DATA_LIMIT_BYTES } from "./execution.ts";
import { historyPage } from "./history.ts";
import type { Engine } from "./index.ts";
import { type ExecutionRecord, NAME_RETENTION_MS } from "./store.ts";

const ok = (body: unknown): AwsResponse => ({
  status: 200,
  headers: { "content-type": "application/x-amz-json-1.0" },
  body: JSON.stringify(body),
});

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

export function createStatesApi(engine: Engine): AwsServiceHandler {
  return async (request: AwsRequest) => {
    const action = request.target?.replace(/^AWSStepFunctions\./, "");
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(request.body.toString("utf8") || "{}") as Record<string, unknown>;
    } catch {
      return awsJsonError(400, "SerializationException", "The request body is not valid JSON");
    }
    switch (action) {
      case "StartExecution":
        return startExecution(engine, body);
      case "DescribeExecution": {
        const found = find(engine, String(body["executionArn"] ?? ""));
        return "error" in found ? found.error : ok(describeView(found.record));
      }
      case "StopExecution": {
        const found = find(engine, String(body["executionArn"] ?? ""));
        if ("error" in found) return found.error;
        const execution = found.record;
        if (execution.status === "RUNNING") {
          engine.stop(execution, body["error"] as string | undefined, body["cause"] as string | undefined);
        }
        const stopped =
          engine.store.get(execution.executionArn) ?? engine.express.get(execution.executionArn);
        return ok({ stopDate: seconds(stopped?.stopDate ?? Date.now()) });
      }
      case "ListExecutions":
        return listExecutions(engine, body);
      case "GetExecutionHistory": {
        const found = find(engine, String(body["executionArn"] ?? ""));
        if ("error" in found) return found.error;
        return ok(historyPage(engine.histories.get(found.record.executionArn), body));
      }
      default:
        return awsJsonError(
          400,
          "UnknownOperationException",
          `${String(request.target)} is not served by this form`,
        );
    }
  };
}

function startExecution(engine: Engine, body: Record<string, unknown>): AwsResponse {
  const model = engine.machines.get(String(body["stateMachineArn"] ?? ""));
  if (!model)
    return awsJsonError(
      400,
      "StateMachineDoesNotExist",
      `State Machine Does Not Exist: '${String(body["stateMachineArn"])}'`,
    );
  const name = typeof body["name"] === "string" ? body["name"] : crypto.randomUUID();
  if (!validName(name)) {
    return awsJsonError(400, "InvalidName", `Invalid Name: '${name}'`);
  }
  const input = typeof body["input"] === "string" ? body["input"] : "{}";
  if (Buffer.byteLength(input, "utf8") > DATA_LIMIT_BYTES) {
    return awsJsonError(
      400,
      "ValidationException",
      "1 validation error detected: Value at 'input' failed to satisfy constraint: Member must have length less than or equal to 262144",
    );
  }
  try {
    JSON.parse(input);
  } catch {
    return awsJsonError(
      400,
      "InvalidExecutionInput",
      "Invalid State Machine Execution Input: 'Unexpected token'",
    );
  }
  if (model.type === "STANDARD") {
    const arn = `${model.arn.replace(":stateMachine:", ":execution:")}:${name}`;
    const existing = engine.store.get(arn);
    const expired = existing?.stopDate !== undefined && Date.now() - existing.stopDate > NAME_RETENTION_MS;
    if (existing && !expired) {
      if (existing.status === "RUNNING" && existing.input === input) {
        return ok({ executionArn: existing.executionArn, startDate: seconds(existing.startDate) });
      }
      return awsJsonError(400, "ExecutionAlreadyExists", `Execution Already Exists: '${arn}'`);
    }
  }
  const record = engine.start(model, name, input);
  return ok({ executionArn: record.executionArn, startDate: seconds(record.startDate) });
}

function find(engine: Engine, executionArn: string): { record: ExecutionRecord } | { error: AwsResponse } {
  if (!/^arn:aws:states:[^:]+:\d+:(execution|express):/.test(executionArn)) {
    return { error: awsJsonError(400, "InvalidArn", `Invalid Arn: '${executionArn}'`) };
  }
  // Step Functions does not describe Express executions (their history is in CloudWatch Logs).
  if (executionArn.includes(":express:")) {
    return { error: awsJsonError(400, "InvalidArn", "Express executions cannot be described or stopped") };
  }
  const record = engine.store.get(executionArn);
  if (!record) {
    return {
      error: awsJsonError(400, "ExecutionDoesNotExist", `Execution Does Not Exist: '${executionArn}'`),
    };
  }
  return { record };
}

function describeView(r: ExecutionRecord): Record<string, unknown> {
  return {
    executionArn: r.executionArn,
    stateMachineArn: r.stateMachineArn,
    name: r.name,
    status: r.status,
    startDate: seconds(r.startDate),
    ...(r.stopDate !== undefined && { stopDate: seconds(r.stopDate) }),
    input: r.input,
    inputDetails: { included: true },
    ...(r.output !== undefined && { output: r.output, outputDetails: { included: true } }),
    ...(r.error !== undefined && { error: r.error }),
    ...(r.cause !== undefined && { cause: r.cause }),
  };
}

function listExecutions(engine: Engine, body: Record<string, unknown>): AwsResponse {
  const arn = String(body["stateMachineArn"] ?? "");
  const model = engine.machines.get(arn);
  if (!model) return awsJsonError(400, "StateMachineDoesNotExist", `State Machine Does Not Exist: '${arn}'`);
  if (model.type === "EXPRESS") {
    return awsJsonError(
      400,
      "StateMachineTypeNotSupported",
      "This operation is not supported by this type of state machine",
    );
  }
  const filter = body["statusFilter"];
  const all = engine.store
    .all()
    .filter((r) => r.stateMachineArn === arn && (filter === undefined || r.status === filter))
    .sort((a, b) => b.startDate - a.startDate);
  const max = Math.min(1000, Number(body["maxResults"] ?? 100) || 100);
  const from = Number(body["nextToken"] ?? 0) || 0;
  const page = all.slice(from, from + max);
  return ok({
    executions: page.map((r) => ({
      executionArn: r.executionArn,
      stateMachineArn: r.stateMachineArn,
      name: r.name,
      status: r.status,
      startDate: seconds(r.startDate),
      ...(r.stopDate !== undefined && { stopDate: seconds(r.stopDate) }),
    })),
    ...(from + max < all.length && { nextToken: String(from + max) }),
  });
}

/** 1 to 80 characters: no whitespace, brackets, wildcards, special or control characters. */
function validName(name: string): boolean {
  if (name.length < 1 || name.length > 80) return false;
  if (/[\s<>{}[\]?*"#%\\^|~`$&,;:/]/.test(name)) return false;
  return [...name].every((c) => {
    const code = c.codePointAt(0) ?? 0;
    return code > 0x1f && (code < 0x7f || code > 0x9f);
  });
}
