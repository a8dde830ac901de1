/**
 * Step Functions of the deployed form, through the real SFN client: the template's machines
 * (definitions resolved, substitutions applied), Task states invoking the function as Step
 * Functions does (errors and causes, throttling, 256 KiB), names unique for 90 days across a
 * restart, executions cut off by a stop ending ABORTED, Express limits, status change events.
 * The template's Offboarding (Standard) and DriftCheck (Express) definitions are replaced by
 * small ones calling the same task function, so that each behaviour is driven exactly.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import {
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StepFunctionsEngine } from "../../functions/adapters/workflow/sfn-engine.ts";
import type { AwsServiceHandler, CfnTemplate, InvokeResult } from "../../infra/aws-local/contracts.ts";
import { createStepFunctions, type StepFunctions } from "../../infra/aws-local/stepfunctions/index.ts";
import { readStateMachines } from "../../infra/aws-local/stepfunctions/machines.ts";
import type { Assembly } from "../../infra/aws-local/template.ts";
import { synthAssembly, tempDataDir } from "./assembly.ts";

const TASK = ["$", "{WorkflowTask}"].join("");
const standard = {
  StartAt: "Work",
  States: {
    Work: {
      Type: "Task",
      Resource: TASK,
      Retry: [{ ErrorEquals: ["TransientError"], IntervalSeconds: 2, MaxAttempts: 2 }],
      Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "Caught" }],
      End: true,
    },
    Caught: { Type: "Pass", End: true },
  },
};
const expressDefinition = { StartAt: "Work", States: { Work: { Type: "Task", Resource: TASK, End: true } } };

type Fn = (event: Record<string, unknown>) => InvokeResult | Promise<InvokeResult>;
let behaviour: Fn = (e) => ({ ok: true, payload: { done: e["tenantId"] } });
const invocations: unknown[] = [];
const invoke = async (ref: string, event: unknown) => {
  invocations.push({ ref, event });
  return behaviour(event as Record<string, unknown>);
};

let assembly: Assembly;
let offboardingArn: string;
let driftArn: string;
let taskArn: string;

beforeAll(async () => {
  assembly = await synthAssembly((template: CfnTemplate) => {
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== "AWS::StepFunctions::StateMachine" || !resource.Properties) continue;
      const json = JSON.stringify(resource.Properties["DefinitionString"]);
      if (json.includes("Offboard")) resource.Properties["DefinitionString"] = JSON.stringify(standard);
      else if (resource.Properties["StateMachineType"] === "EXPRESS") {
        resource.Properties["DefinitionString"] = JSON.stringify(expressDefinition);
      }
    }
  });
  const machines = readStateMachines(assembly);
  offboardingArn = machines.find((m) => m.logicalId.includes("Offboarding"))?.arn as string;
  driftArn = machines.find((m) => m.type === "EXPRESS")?.arn as string;
  taskArn = assembly.getAtt(
    assembly
      .ofType("AWS::Lambda::Function")
      .find(([id]) => id.startsWith("WorkflowWorkflowTask"))?.[0] as string,
    "Arn",
  );
});

describe("the template's definitions", () => {
  it("resolves DefinitionString and applies DefinitionSubstitutions", async () => {
    const real = readStateMachines(await synthAssembly());
    const onboarding = real.find((m) => m.name === "JournalOnboarding-Onboarding");
    expect(onboarding?.type).toBe("STANDARD");
    expect(real.find((m) => m.logicalId.includes("DriftCheck"))?.type).toBe("EXPRESS");
    const text = JSON.stringify(onboarding?.definition);
    expect(text).not.toContain("${");
    expect(text).toContain(`"Resource":"${taskArn}"`);
  });
});

describe("executions", () => {
  let sfn: StepFunctions;
  let client: SFNClient;
  let endpoint: { url: string; close(): Promise<void> };
  const events: Record<string, unknown>[] = [];
  const dataDir = tempDataDir();

  beforeAll(async () => {
    sfn = createStepFunctions({
      assembly,
      invoke,
      dataDir,
      retryScale: 0.001,
      onStatusChange: (e) => events.push(e as Record<string, unknown>),
      expressLimitMs: 200,
    });
    endpoint = await serveStates(sfn.handler);
    client = new SFNClient({
      endpoint: endpoint.url,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    });
  });
  afterAll(async () => {
    await sfn.close();
    await endpoint.close();
  });
  const describeIt = (executionArn: string) => client.send(new DescribeExecutionCommand({ executionArn }));

  it("runs a Standard execution with the task function and sends its status change events", async () => {
    behaviour = (e) => ({ ok: true, payload: { done: e["tenantId"] } });
    const { executionArn } = await client.send(
      new StartExecutionCommand({
        stateMachineArn: offboardingArn,
        name: "off-t1-1",
        input: '{"tenantId":"t1"}',
      }),
    );
    expect(executionArn).toBe(`${offboardingArn.replace(":stateMachine:", ":execution:")}:off-t1-1`);
    await sfn.idle();
    const out = await describeIt(executionArn as string);
    expect(out).toMatchObject({ status: "SUCCEEDED", output: '{"done":"t1"}', name: "off-t1-1" });
    expect(out.stopDate).toBeInstanceOf(Date);
    expect(invocations.at(-1)).toEqual({ ref: taskArn, event: { tenantId: "t1" } });
    const mine = events.filter((e) => (e["detail"] as { name: string }).name === "off-t1-1");
    expect(mine.map((e) => (e["detail"] as { status: string }).status)).toEqual(["RUNNING", "SUCCEEDED"]);
    expect(mine[1]).toMatchObject({
      source: "aws.states",
      "detail-type": "Step Functions Execution Status Change",
      resources: [executionArn],
      detail: {
        executionArn,
        stateMachineArn: offboardingArn,
        input: '{"tenantId":"t1"}',
        output: '{"done":"t1"}',
      },
    });
  });

  it("keeps names unique, closed executions included; a RUNNING one with the same input is returned", async () => {
    let release: (r: InvokeResult) => void = () => {};
    behaviour = () => new Promise((resolve) => (release = resolve));
    const start = (input: string) =>
      client.send(new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t2-1", input }));
    const first = await start('{"tenantId":"t2"}');
    const again = await start('{"tenantId":"t2"}');
    expect(again.executionArn).toBe(first.executionArn);
    await expect(start('{"tenantId":"other"}')).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    release({ ok: true, payload: {} });
    await sfn.idle();
    await expect(start('{"tenantId":"t2"}')).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(describeIt(`${first.executionArn}-nope`)).rejects.toBeInstanceOf(ExecutionDoesNotExist);
  });

  it("names a function error by its errorType with Lambda's JSON cause, retried at the scaled interval", async () => {
    const before = invocations.length;
    behaviour = () => ({
      ok: false,
      errorType: "TransientError",
      errorMessage: "Exchange busy",
      trace: ["at x"],
    });
    const started = Date.now();
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t3-1", input: "{}" }),
    );
    await sfn.idle();
    // 1 + 2 retries, at 2 s x 0.001 each.
    expect(invocations.length - before).toBe(3);
    expect(Date.now() - started).toBeLessThan(1_000);
    const out = JSON.parse((await describeIt(executionArn as string)).output as string);
    expect(out.error.Error).toBe("TransientError");
    expect(JSON.parse(out.error.Cause)).toEqual({
      errorType: "TransientError",
      errorMessage: "Exchange busy",
      trace: ["at x"],
    });
  });

  it("gives the execution history in Step Functions' events", async () => {
    const arn = `${offboardingArn.replace(":stateMachine:", ":execution:")}:off-t3-1`;
    const { events } = await client.send(new GetExecutionHistoryCommand({ executionArn: arn }));
    const types = events?.map((e) => e.type);
    expect(types?.[0]).toBe("ExecutionStarted");
    expect(types?.filter((t) => t === "LambdaFunctionScheduled")).toHaveLength(3);
    expect(types?.filter((t) => t === "LambdaFunctionFailed")).toHaveLength(3);
    expect(types).toContain("TaskStateEntered");
    expect(types).toContain("PassStateEntered");
    expect(types?.at(-1)).toBe("ExecutionSucceeded");
    const failed = events?.find((e) => e.type === "LambdaFunctionFailed");
    expect(failed?.lambdaFunctionFailedEventDetails?.error).toBe("TransientError");
    expect(events?.map((e) => e.id)).toEqual(events?.map((_, i) => i + 1));
  });

  it("reports an error without an error type as Lambda.Unknown", async () => {
    behaviour = () => ({
      ok: false,
      errorType: "",
      errorMessage: "Process exited before completing request",
    });
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t3-2", input: "{}" }),
    );
    await sfn.idle();
    const out = JSON.parse((await describeIt(executionArn as string)).output as string);
    expect(out.error.Error).toBe("Lambda.Unknown");
    expect(out.error.Cause).toMatch(/did not return an error type/);
  });

  it("reports a refused invocation as Lambda.TooManyRequestsException", async () => {
    behaviour = () => ({
      ok: false,
      errorType: "TooManyRequestsException",
      errorMessage: "Rate Exceeded.",
      refused: true,
    });
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t4-1", input: "{}" }),
    );
    await sfn.idle();
    const out = JSON.parse((await describeIt(executionArn as string)).output as string);
    expect(out.error.Error).toBe("Lambda.TooManyRequestsException");
  });

  it("fails with States.DataLimitExceeded past 256 KiB, which States.ALL does not catch", async () => {
    behaviour = () => ({ ok: true, payload: { big: "x".repeat(256 * 1024) } });
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t5-1", input: "{}" }),
    );
    await sfn.idle();
    expect(await describeIt(executionArn as string)).toMatchObject({
      status: "FAILED",
      error: "States.DataLimitExceeded",
    });
    await expect(
      client.send(
        new StartExecutionCommand({
          stateMachineArn: offboardingArn,
          name: "off-t5-2",
          input: JSON.stringify({ big: "x".repeat(262_144) }),
        }),
      ),
    ).rejects.toMatchObject({ name: "ValidationException" });
  });

  it("stops an execution (ABORTED) and lists executions", async () => {
    behaviour = () => new Promise(() => {});
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t6-1", input: "{}" }),
    );
    await client.send(new StopExecutionCommand({ executionArn }));
    await sfn.idle();
    expect((await describeIt(executionArn as string)).status).toBe("ABORTED");
    const listed = await client.send(
      new ListExecutionsCommand({ stateMachineArn: offboardingArn, statusFilter: "ABORTED" }),
    );
    expect(listed.executions?.map((e) => e.name)).toEqual(["off-t6-1"]);
  });

  it("ends an Express execution at its limit, without names kept or status change events", async () => {
    behaviour = () => new Promise(() => {});
    const before = events.length;
    const a = await client.send(
      new StartExecutionCommand({ stateMachineArn: driftArn, name: "drift-1", input: "{}" }),
    );
    const b = await client.send(
      new StartExecutionCommand({ stateMachineArn: driftArn, name: "drift-1", input: "{}" }),
    );
    expect(a.executionArn).not.toBe(b.executionArn);
    expect(a.executionArn).toMatch(/:express:/);
    await sfn.idle();
    expect(sfn.describe(a.executionArn as string)?.status).toBe("TIMED_OUT");
    expect(events.length).toBe(before);
  });
});

describe("the product's Step Functions engine (sfn-engine.ts) against the form", () => {
  it("starts, describes by the ARN it derives, and takes ExecutionAlreadyExists of a closed name as a clash", async () => {
    behaviour = () => ({ ok: true, payload: {} });
    const sfn = createStepFunctions({
      assembly,
      invoke,
      dataDir: tempDataDir(),
      retryScale: 1,
      onStatusChange: () => {},
    });
    const endpoint = await serveStates(sfn.handler);
    try {
      const client = new SFNClient({
        endpoint: endpoint.url,
        region: "us-east-1",
        credentials: { accessKeyId: "x", secretAccessKey: "y" },
      });
      const engine = new StepFunctionsEngine({
        client,
        stateMachineArns: { onboarding: offboardingArn, offboarding: offboardingArn },
        driftStateMachineArn: driftArn,
      });
      const input = { tenantId: "6f1d4c2a-0b7e-4c59-9d0e-3a8b5e7f9c11", run: 1 };
      expect(await engine.describe("offboarding", input)).toBeUndefined();
      await engine.start("offboarding", input);
      await sfn.idle();
      expect(await engine.describe("offboarding", input)).toMatchObject({
        name: `off-${input.tenantId}-1`,
        status: "SUCCEEDED",
      });
      // The same name again, closed: Step Functions says it exists, and the engine fails loudly
      // (the run was not started) instead of taking it as started.
      await expect(engine.start("offboarding", input)).rejects.toMatchObject({
        name: "ExecutionNameTakenError",
      });
      await engine.startDriftCheck({ tenantId: input.tenantId, run: 1, check: "c1" });
      await sfn.idle();
    } finally {
      await sfn.close();
      await endpoint.close();
    }
  });
});

describe("a stop or crash of the form", () => {
  it("ends the executions it cut off ABORTED at the next start, with their event; names survive", async () => {
    const dataDir = tempDataDir();
    behaviour = () => new Promise(() => {});
    const first = createStepFunctions({ assembly, invoke, dataDir, retryScale: 1, onStatusChange: () => {} });
    const endpoint = await serveStates(first.handler);
    const client = new SFNClient({
      endpoint: endpoint.url,
      region: "us-east-1",
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    });
    const { executionArn } = await client.send(
      new StartExecutionCommand({ stateMachineArn: offboardingArn, name: "off-t7-1", input: "{}" }),
    );
    await first.close();
    await endpoint.close();

    const events: Record<string, unknown>[] = [];
    const second = createStepFunctions({
      assembly,
      invoke,
      dataDir,
      retryScale: 1,
      onStatusChange: (e) => events.push(e as never),
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(second.describe(executionArn as string)?.status).toBe("ABORTED");
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ detail: { executionArn, status: "ABORTED" } });
    const again = await second.handler({
      service: "states",
      target: "AWSStepFunctions.StartExecution",
      method: "POST",
      url: "/",
      headers: {},
      body: Buffer.from(JSON.stringify({ stateMachineArn: offboardingArn, name: "off-t7-1", input: "{}" })),
      caller: "test",
    });
    expect(JSON.parse(String(again.body))).toMatchObject({ __type: "ExecutionAlreadyExists" });
    await second.close();
  });
});

async function serveStates(handler: AwsServiceHandler): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const answer = await handler({
      service: "states",
      target: String(req.headers["x-amz-target"]),
      method: req.method ?? "POST",
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
