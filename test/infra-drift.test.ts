/**
 * The drift schedule in the synthesised template: deployable for every interval docs/deploy.md
 * allows, one event per tick of whole minutes, the fan-out's pacing within its timeout, the
 * Express check ending itself, and the sparse drift index the fan-out may query.
 */
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { describe, expect, it } from "vitest";
import { TABLE_INDEXES } from "../functions/adapters/dynamodb/schema.ts";
import { parseDriftInterval } from "../functions/domain/drift.ts";
import { tickMs } from "../functions/domain/drift-ticks.ts";
import { JournalOnboardingStack } from "../infra/aws/stack.ts";
import { DRIFT_CHECK_TIMEOUT_SECONDS } from "../workflows/definition.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };

function synth(driftCheckInterval: string) {
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const stack = new JournalOnboardingStack(app, "JournalOnboarding", { driftCheckInterval });
  const resources = Template.fromStack(stack).toJSON().Resources as Record<string, Resource>;
  return { stack, resources, ofType: (t: string) => Object.values(resources).filter((r) => r.Type === t) };
}

describe("the drift schedule in the template", () => {
  it.each(["30m", "2h", "1d"])(
    "%s: deploys, one event per tick of whole minutes, starts paced within the timeout",
    (value) => {
      const { stack, resources, ofType } = synth(value);
      const rule = ofType("AWS::Events::Rule").find((r) =>
        String(r.Properties["ScheduleExpression"]).startsWith("rate("),
      )!;
      const minutes = tickMs(parseDriftInterval(value)) / 60_000;
      expect(rule.Properties["ScheduleExpression"]).toBe(
        `rate(${minutes} ${minutes === 1 ? "minute" : "minutes"})`,
      );
      const fanOut = resources[stack.getLogicalId(stack.workflow.driftFanOut.node.defaultChild as never)]!;
      const timeout = fanOut.Properties["Timeout"] as number;
      const env = (fanOut.Properties["Environment"] as { Variables: Record<string, string> }).Variables;
      expect(timeout).toBeLessThanOrEqual(Math.min(900, minutes * 60));
      expect(Number(env["DRIFT_SPREAD_SECONDS"]) + 30).toBeLessThanOrEqual(timeout);
    },
  );

  it("refuses an interval that is not a whole number of minutes, or that cannot be spread", () => {
    expect(() => synth("90s")).toThrow(/whole number of minutes/);
    // 73 minutes: one tick of 73 would check every tenant at once.
    expect(() => synth("73m")).toThrow(/cannot be spread/);
  });

  it("the Express check ends itself before Express's 5 minutes, and never retries a timed-out attempt", () => {
    const { stack, resources } = synth("6h");
    const machine = resources[stack.getLogicalId(stack.workflow.driftCheck.node.defaultChild as never)]!;
    const body = JSON.stringify(machine.Properties["DefinitionString"]);
    expect(body).toContain(`\\"TimeoutSeconds\\":${DRIFT_CHECK_TIMEOUT_SECONDS}`);
    expect(DRIFT_CHECK_TIMEOUT_SECONDS).toBeLessThan(300);
    expect(body).not.toContain("States.Timeout");
    expect(body).not.toContain("Sandbox.Timedout");
  });

  it("has the sparse drift index, which the fan-out (DRIFT# entries) and the stranded-run sweep (INFLIGHT#) alone query", () => {
    const { stack, ofType } = synth("6h");
    const [table] = ofType("AWS::DynamoDB::Table");
    const indexes = (table!.Properties["GlobalSecondaryIndexes"] as { IndexName: string }[]).map(
      (i) => i.IndexName,
    );
    expect(indexes).toContain(TABLE_INDEXES.driftDue.name);
    const policies = ofType("AWS::IAM::Policy").filter((p) =>
      JSON.stringify(p.Properties["PolicyDocument"]).includes(`/index/${TABLE_INDEXES.driftDue.name}`),
    );
    const roleOf = (fn: typeof stack.workflow.driftFanOut) =>
      JSON.stringify([{ Ref: stack.getLogicalId(fn.executionRole.node.defaultChild as never) }]);
    expect(policies.map((p) => JSON.stringify(p.Properties["Roles"])).sort()).toEqual(
      [roleOf(stack.workflow.driftFanOut), roleOf(stack.workflow.strandedSweep)].sort(),
    );
  });
});
