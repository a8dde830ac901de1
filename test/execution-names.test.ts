/**
 * Execution names never repeat for a tenant, even when it is registered again after its old
 * record expired (`run` starts at 1 again): Step Functions keeps a closed execution's name for
 * 90 days and refuses it (ExecutionAlreadyExists). The store runs against dynalite; Step
 * Functions is a small in-test stand-in for its name rules (no local Step Functions API here),
 * answering as AWS documents: a start of a RUNNING execution with the same name and input is a
 * success, any other start of a known name is ExecutionAlreadyExists.
 */
import { ExecutionAlreadyExists, ExecutionDoesNotExist, SFNClient } from "@aws-sdk/client-sfn";
import { DeleteCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { tenantKey } from "../functions/adapters/dynamodb/keys.ts";
import { StepFunctionsEngine } from "../functions/adapters/workflow/sfn-engine.ts";
import { ExecutionNameTakenError, executionName, workflowInput } from "../functions/domain/engine.ts";
import type { OnboardingRequest } from "../functions/domain/tenant.ts";
import { type FreshTable, freshTable } from "./support/dynamodb.ts";

const T0 = "2026-01-01T00:00:00.000Z";
const at = (days: number) => new Date(Date.parse(T0) + days * 86_400_000).toISOString();
const request = (tenantId: string): OnboardingRequest => ({
  tenantId,
  customerName: "contoso",
  region: "us",
  outboundGateway: false,
  ndrAddress: "admin@contoso.example",
});
const MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:JournalOnboarding-Onboarding";

type Execution = { input: string; status: "RUNNING" | "SUCCEEDED"; startDate: Date };

/** Step Functions' execution names for one state machine: kept after they close. */
function stepFunctions() {
  const executions = new Map<string, Execution>();
  const client = new SFNClient({
    region: "eu-west-1",
    credentials: { accessKeyId: "x", secretAccessKey: "x" },
  });
  client.middlewareStack.add(
    () => async (args) => {
      const input = args.input as { name?: string; input?: string; executionArn?: string };
      if ("stateMachineArn" in (args.input as object)) {
        const name = input.name!;
        const known = executions.get(name);
        if (known && !(known.status === "RUNNING" && known.input === input.input)) {
          throw new ExecutionAlreadyExists({ message: `Execution Already Exists: '${name}'`, $metadata: {} });
        }
        if (!known) executions.set(name, { input: input.input!, status: "RUNNING", startDate: new Date() });
        return {
          output: { executionArn: `${MACHINE}:${name}`, startDate: new Date(), $metadata: {} },
        } as never;
      }
      const name = input.executionArn!.split(":").at(-1)!;
      const known = executions.get(name);
      if (!known) throw new ExecutionDoesNotExist({ message: "Execution Does Not Exist", $metadata: {} });
      return { output: { status: known.status, startDate: known.startDate, $metadata: {} } } as never;
    },
    { step: "initialize" },
  );
  return { client, executions };
}

let db: FreshTable;
beforeAll(async () => {
  db = await freshTable();
});

describe("execution names", () => {
  it("differ between a tenant's records: registered again after the old record expired", async () => {
    const tenantId = "10000000-0000-4000-8000-000000000001";
    const first = await db.store.registerTenant("p_a", request(tenantId), T0);
    await db.store.transition(tenantId, { status: "offboarded" }, at(1));
    // The offboarded record's TTL (30 days) has passed: DynamoDB deleted it.
    await db.docClient.send(new DeleteCommand({ TableName: db.tableName, Key: tenantKey(tenantId) }));
    const second = await db.store.registerTenant("p_b", request(tenantId), at(31));

    expect(second.internals.run).toBe(first.internals.run);
    const names = [first, second].map((s) => executionName("onboarding", workflowInput(s)));
    expect(names[1]).not.toBe(names[0]);
    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it("keep the previous release's names for records without an incarnation", () => {
    const tenantId = "10000000-0000-4000-8000-000000000002";
    expect(executionName("onboarding", { tenantId, run: 3 })).toBe(`on-${tenantId}-3`);
    expect(executionName("offboarding", { tenantId, run: 4 })).toBe(`off-${tenantId}-4`);
  });

  it("stay within Step Functions' 80 characters", () => {
    const name = executionName("offboarding", {
      tenantId: "10000000-0000-4000-8000-000000000003",
      incarnation: "0123456789",
      run: 999_999_999,
    });
    expect(name.length).toBeLessThanOrEqual(80);
  });
});

describe("the Step Functions engine", () => {
  it("starts the re-registered tenant's run although the old record's run 1 is kept by Step Functions", async () => {
    const { client, executions } = stepFunctions();
    const engine = new StepFunctionsEngine({
      client,
      stateMachineArns: { onboarding: MACHINE, offboarding: "" },
    });
    const tenantId = "10000000-0000-4000-8000-000000000004";
    const old = await db.store.registerTenant("p_a", request(tenantId), T0);
    await engine.start("onboarding", workflowInput(old));
    executions.get(executionName("onboarding", workflowInput(old)))!.status = "SUCCEEDED";
    await db.store.transition(tenantId, { status: "offboarded" }, at(1));
    await db.docClient.send(new DeleteCommand({ TableName: db.tableName, Key: tenantKey(tenantId) }));

    const again = await db.store.registerTenant("p_a", request(tenantId), at(31));
    await engine.start("onboarding", workflowInput(again));
    expect(await engine.describe("onboarding", workflowInput(again))).toMatchObject({ status: "RUNNING" });
    expect(executions.size).toBe(2);
  });

  it("takes the same start again (running, same input) as done", async () => {
    const { client, executions } = stepFunctions();
    const engine = new StepFunctionsEngine({
      client,
      stateMachineArns: { onboarding: MACHINE, offboarding: "" },
    });
    const input = { tenantId: "10000000-0000-4000-8000-000000000005", run: 1, incarnation: "abcdef0123" };
    await engine.start("onboarding", input);
    await engine.start("onboarding", input);
    expect(executions.size).toBe(1);
  });

  it("fails loudly on a real name clash (a closed execution of that name), saying what holds the name", async () => {
    const { client, executions } = stepFunctions();
    const engine = new StepFunctionsEngine({
      client,
      stateMachineArns: { onboarding: MACHINE, offboarding: "" },
    });
    const input = { tenantId: "10000000-0000-4000-8000-000000000006", run: 1 };
    await engine.start("onboarding", input);
    executions.get(executionName("onboarding", input))!.status = "SUCCEEDED";
    const started = engine.start("onboarding", input);
    await expect(started).rejects.toBeInstanceOf(ExecutionNameTakenError);
    await expect(started).rejects.toThrow(/SUCCEEDED/);
  });
});
