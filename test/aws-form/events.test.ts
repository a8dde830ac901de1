/**
 * EventBridge of the deployed form on the stack's own rules: the drift tick's schedule (the
 * event AWS sends, its scheduled time, no replay of missed firings, its phase across a
 * restart), the execution-ended pattern, and delivery to Lambda targets (EventBridge's retries
 * and dead-letter queue for a failed hand-over; Lambda's asynchronous retries and the function's
 * on-failure destination for a function error).
 */
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { InvokeResult } from "../../infra/aws-local/contracts.ts";
import type { DeliveryOutcome } from "../../infra/aws-local/events/delivery.ts";
import { startEventRules } from "../../infra/aws-local/events/index.ts";
import { matches } from "../../infra/aws-local/events/pattern.ts";
import { readRules } from "../../infra/aws-local/events/rules.ts";
import { parseSchedule } from "../../infra/aws-local/events/schedule.ts";
import { statusChangeEvent } from "../../infra/aws-local/stepfunctions/index.ts";
import { readStateMachines } from "../../infra/aws-local/stepfunctions/machines.ts";
import type { Assembly } from "../../infra/aws-local/template.ts";
import { synthAssembly, tempDataDir } from "./assembly.ts";

let assembly: Assembly;
let tick: { logicalId: string; arn: string; fanOut: string };
let ended: { logicalId: string; watchdog: string; dlq: string };
let machines: Record<"onboarding" | "offboarding" | "drift", string>;

beforeAll(async () => {
  assembly = await synthAssembly();
  const rules = readRules(assembly);
  // The drift tick (the stranded-run sweep's minute schedule is the template's other one).
  const schedule = rules.find(
    (r) => r.scheduleExpression && r.logicalId.startsWith("WorkflowDriftCheckTick"),
  ) as (typeof rules)[number];
  const pattern = rules.find((r) => r.eventPattern) as (typeof rules)[number];
  tick = { logicalId: schedule.logicalId, arn: schedule.arn, fanOut: schedule.targets[0]?.arn as string };
  ended = {
    logicalId: pattern.logicalId,
    watchdog: pattern.targets[0]?.arn as string,
    dlq: pattern.targets[0]?.deadLetterArn as string,
  };
  const sm = readStateMachines(assembly);
  machines = {
    onboarding: sm.find((m) => m.logicalId.includes("Onboarding"))?.arn as string,
    offboarding: sm.find((m) => m.logicalId.includes("Offboarding"))?.arn as string,
    drift: sm.find((m) => m.type === "EXPRESS")?.arn as string,
  };
});

afterEach(() => {
  vi.useRealTimers();
});

function recorder(
  answer: (ref: string, n: number) => InvokeResult | Promise<InvokeResult> = () => ({
    ok: true,
    payload: null,
  }),
) {
  const calls: { ref: string; event: Record<string, unknown> }[] = [];
  const invoke = async (ref: string, event: unknown) => {
    calls.push({ ref, event: event as Record<string, unknown> });
    return answer(ref, calls.filter((c) => c.ref === ref).length);
  };
  return { calls, invoke };
}

describe("schedules", () => {
  it("reads the template's rules: the drift tick's rate and the execution-ended pattern with its DLQ", () => {
    const rules = readRules(assembly);
    expect(rules.find((r) => r.logicalId === tick.logicalId)?.scheduleExpression).toMatch(
      /^rate\(\d+ minutes?\)$/,
    );
    expect(ended.dlq).toMatch(/^arn:aws:sqs:/);
    expect(tick.fanOut).toMatch(/:function:/);
  });

  it("fires with the event AWS sends, its time the scheduled time", async () => {
    const { calls, invoke } = recorder();
    const rules = startEventRules({ assembly, invoke, dataDir: tempDataDir(), timers: false });
    await rules.fire(tick.logicalId, new Date("2026-12-07T10:05:00.000Z"));
    await rules.close();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.ref).toBe(tick.fanOut);
    expect(calls[0]?.event).toMatchObject({
      version: "0",
      source: "aws.events",
      "detail-type": "Scheduled Event",
      time: "2026-12-07T10:05:00Z",
      resources: [tick.arn],
      detail: {},
    });
  });

  it("counts a rate from the rule's creation, keeps its phase across a restart, and replays no missed firing", async () => {
    const t0 = Date.parse("2026-12-07T10:00:30.000Z");
    vi.useFakeTimers({ now: t0, toFake: ["setTimeout", "clearTimeout", "Date"] });
    const dataDir = tempDataDir();
    const { calls, invoke } = recorder();
    const period =
      60_000 *
      Number(
        /rate\((\d+)/.exec(
          readRules(assembly).find((r) => r.logicalId === tick.logicalId)?.scheduleExpression ?? "",
        )?.[1],
      );
    const ticks = () => calls.filter((c) => c.ref === tick.fanOut).map((c) => c.event["time"]);
    const first = startEventRules({ assembly, invoke, dataDir });
    await vi.advanceTimersByTimeAsync(period);
    expect(ticks()).toEqual([new Date(t0 + period).toISOString().replace(".000", "")]);
    await first.close();
    // Stopped for three periods and a half.
    vi.setSystemTime(t0 + 4.5 * period);
    const second = startEventRules({ assembly, invoke, dataDir });
    await vi.advanceTimersByTimeAsync(period);
    await second.close();
    expect(ticks()).toEqual(
      [t0 + period, t0 + 5 * period].map((t) => new Date(t).toISOString().replace(".000", "")),
    );
  });

  it("computes cron and rate expressions in UTC", () => {
    const saturday = Date.parse("2026-12-05T13:00:00Z");
    expect(new Date(parseSchedule("cron(0 12 ? * MON-FRI *)", 0)(saturday)).toISOString()).toBe(
      "2026-12-07T12:00:00.000Z",
    );
    expect(
      new Date(parseSchedule("cron(0/15 * * * ? *)", 0)(Date.parse("2026-12-07T10:07:00Z"))).toISOString(),
    ).toBe("2026-12-07T10:15:00.000Z");
    expect(new Date(parseSchedule("cron(30 2 1 JAN ? *)", 0)(saturday)).toISOString()).toBe(
      "2027-01-01T02:30:00.000Z",
    );
    expect(parseSchedule("rate(5 minutes)", 1_000)(1_000 + 7 * 60_000)).toBe(1_000 + 10 * 60_000);
    expect(() => parseSchedule("rate(5 fortnights)", 0)).toThrow();
  });
});

describe("the execution-ended pattern", () => {
  const event = (machine: string, status: string) =>
    statusChangeEvent({
      executionArn: `${machine.replace(":stateMachine:", ":execution:")}:x`,
      stateMachineArn: machine,
      name: "x",
      status: status as "FAILED",
      input: "{}",
      startDate: 1,
      stopDate: 2,
    });

  it("sends the watchdog FAILED, TIMED_OUT and ABORTED executions of onboarding and offboarding only", async () => {
    const { calls, invoke } = recorder();
    const rules = startEventRules({ assembly, invoke, dataDir: tempDataDir(), timers: false });
    for (const status of ["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"]) {
      rules.publish(event(machines.onboarding, status));
    }
    rules.publish(event(machines.offboarding, "FAILED"));
    rules.publish(event(machines.drift, "FAILED"));
    rules.publish({ ...event(machines.onboarding, "FAILED"), source: "aws.other" });
    await rules.settled();
    await rules.close();
    expect(calls.every((c) => c.ref === ended.watchdog)).toBe(true);
    expect(
      calls.map(
        (c) =>
          `${(c.event["detail"] as { stateMachineArn: string }).stateMachineArn === machines.onboarding ? "on" : "off"} ${(c.event["detail"] as { status: string }).status}`,
      ),
    ).toEqual(["on FAILED", "on TIMED_OUT", "on ABORTED", "off FAILED"]);
  });

  it("matches EventBridge's content filters", () => {
    const e = { source: "a.b", detail: { n: 5, s: "Hello", list: ["x", "y"] } };
    expect(matches({ detail: { list: ["y"] } }, e)).toBe(true);
    expect(matches({ detail: { n: [{ numeric: [">", 1, "<=", 5] }] } }, e)).toBe(true);
    expect(matches({ detail: { s: [{ "equals-ignore-case": "hello" }] } }, e)).toBe(true);
    expect(matches({ source: [{ prefix: "a." }] }, e)).toBe(true);
    expect(matches({ source: [{ "anything-but": ["a.b"] }] }, e)).toBe(false);
    expect(matches({ detail: { missing: [{ exists: false }] } }, e)).toBe(true);
    expect(matches({ detail: { missing: ["x"] } }, e)).toBe(false);
  });
});

describe("delivery", () => {
  const failed = () =>
    statusChangeEvent({
      executionArn: `${machines.onboarding.replace(":stateMachine:", ":execution:")}:y`,
      stateMachineArn: machines.onboarding,
      name: "y",
      status: "FAILED",
      input: "{}",
      startDate: 1,
      stopDate: 2,
    });

  it("retries a failed hand-over MaximumRetryAttempts times, then sends the event to the target's DLQ", async () => {
    let attempts = 0;
    const invoke = async () => {
      attempts += 1;
      throw new Error("Function not found");
    };
    const sent: { queue: string; body: string; attributes: Record<string, string> }[] = [];
    const rules = startEventRules({
      assembly,
      invoke,
      dataDir: tempDataDir(),
      timers: false,
      retryScale: 0.0001,
      sendToQueue: async (queue, body, attributes) => {
        sent.push({ queue, body, attributes });
      },
    });
    rules.publish(failed());
    await rules.settled();
    await rules.close();
    expect(attempts).toBe(9); // 1 + MaximumRetryAttempts 8
    expect(sent).toHaveLength(1);
    expect(sent[0]?.queue).toBe(ended.dlq);
    expect(JSON.parse(sent[0]?.body ?? "{}")).toMatchObject({ detail: { name: "y", status: "FAILED" } });
    expect(sent[0]?.attributes).toMatchObject({
      RETRY_ATTEMPTS: "8",
      EXHAUSTED_RETRY_CONDITION: "MaximumRetryAttemptsExhausted",
    });
  });

  it("leaves a function error to Lambda's asynchronous retries (2), then sends the invocation record to the watchdog's on-failure destination", async () => {
    const { calls, invoke } = recorder(() => ({
      ok: false,
      errorType: "Error",
      errorMessage: "table unreachable",
    }));
    const sent: { queue: string; body: string }[] = [];
    const outcomes: DeliveryOutcome[] = [];
    const rules = startEventRules({
      assembly,
      invoke,
      dataDir: tempDataDir(),
      timers: false,
      retryScale: 0.0001,
      sendToQueue: async (queue, body) => {
        sent.push({ queue, body });
      },
      onOutcome: (o) => outcomes.push(o),
    });
    rules.publish(failed());
    await rules.settled();
    await rules.close();
    expect(calls).toHaveLength(3);
    // The same queue as EventBridge's dead letters: one alarm covers both ways an event is lost.
    expect(sent.map((s) => s.queue)).toEqual([ended.dlq]);
    expect(JSON.parse(sent[0]?.body ?? "{}")).toMatchObject({
      requestContext: { condition: "RetriesExhausted", approximateInvokeCount: 3 },
      requestPayload: { detail: { name: "y", status: "FAILED" } },
      responsePayload: { errorType: "Error", errorMessage: "table unreachable" },
    });
    expect(outcomes).toEqual([
      expect.objectContaining({ result: "function-error-sent-on-failure", attempts: 3 }),
    ]);
  });

  it("drops a function error after Lambda's retries when the function has no on-failure destination", async () => {
    const bare = await synthAssembly((template) => {
      for (const [id, r] of Object.entries(template.Resources)) {
        if ((r as { Type: string }).Type === "AWS::Lambda::EventInvokeConfig") delete template.Resources[id];
      }
    });
    const { calls, invoke } = recorder(() => ({ ok: false, errorType: "Error", errorMessage: "boom" }));
    const sent: unknown[] = [];
    const outcomes: DeliveryOutcome[] = [];
    const rules = startEventRules({
      assembly: bare,
      invoke,
      dataDir: tempDataDir(),
      timers: false,
      retryScale: 0.0001,
      sendToQueue: async (...args) => {
        sent.push(args);
      },
      onOutcome: (o) => outcomes.push(o),
    });
    rules.publish(failed());
    await rules.settled();
    await rules.close();
    expect(calls).toHaveLength(3);
    expect(sent).toEqual([]);
    expect(outcomes).toEqual([expect.objectContaining({ result: "function-error-dropped", attempts: 3 })]);
  });

  it("retries a throttled invocation until it runs", async () => {
    const { calls, invoke } = recorder((_, n) =>
      n <= 3
        ? { ok: false, errorType: "TooManyRequestsException", errorMessage: "Rate Exceeded.", refused: true }
        : { ok: true, payload: null },
    );
    const outcomes: DeliveryOutcome[] = [];
    const rules = startEventRules({
      assembly,
      invoke,
      dataDir: tempDataDir(),
      timers: false,
      retryScale: 0.0001,
      onOutcome: (o) => outcomes.push(o),
    });
    await rules.fire(tick.logicalId, new Date());
    await rules.close();
    expect(calls).toHaveLength(4);
    expect(outcomes).toEqual([expect.objectContaining({ result: "delivered", attempts: 4 })]);
  });
});
