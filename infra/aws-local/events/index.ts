/**
 * EventBridge of the deployed form: the template's rules on the default bus. Schedule rules fire
 * their targets with the event AWS sends (`detail-type` "Scheduled Event", `time` the scheduled
 * time, `resources` the rule's ARN); a `rate(...)` counts from the rule's creation, kept in
 * `<dataDir>/events/schedules.json`, so a restart keeps its phase; firings missed while the form
 * was stopped are not replayed. Pattern rules match the events `publish` is given (Step
 * Functions' status changes). Targets are delivered as `delivery.ts` describes.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Invoke, LOCAL_ACCOUNT, LOCAL_REGION } from "../contracts.ts";
import type { Assembly } from "../template.ts";
import { type AsyncInvokeConfig, Deliveries, type DeliveryOutcome, type SendToQueue } from "./delivery.ts";
import { matches } from "./pattern.ts";
import { type RuleModel, readRules } from "./rules.ts";
import { parseSchedule, type Schedule } from "./schedule.ts";

export interface EventRulesOptions {
  assembly: Assembly;
  invoke: Invoke;
  dataDir: string;
  /** Sends to an SQS queue by ARN (a target's dead-letter queue); without it dead letters are only reported. */
  sendToQueue?: SendToQueue;
  /** Multiplies retry delays (tests). @default 1 */
  retryScale?: number;
  /** Told of each delivery's outcome (logs). */
  onOutcome?: (outcome: DeliveryOutcome) => void;
  /** @default true; false: schedules fire only through `fire` (tests). */
  timers?: boolean;
}

export interface EventRules {
  /** An event on the default bus (e.g. a Step Functions status change): matched against every pattern rule. */
  publish(event: object): void;
  /** Fires a schedule rule (logical id, name or ARN) as at `time`; resolves when its targets are done. */
  fire(ruleLogicalId: string, time: Date): Promise<void>;
  /** Resolves when every delivery so far has ended (retries included). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export function startEventRules(o: EventRulesOptions): EventRules {
  const rules = readRules(o.assembly).filter((r) => r.enabled);
  const asyncConfigs = readAsyncInvokeConfigs(o.assembly);
  const deliveries = new Deliveries({
    invoke: o.invoke,
    asyncConfigOf: (arn) => asyncConfigs.get(arn.split(":function:")[1]?.split(":")[0] ?? arn),
    retryScale: o.retryScale ?? 1,
    ...(o.sendToQueue && { sendToQueue: o.sendToQueue }),
    ...(o.onOutcome && { onOutcome: o.onOutcome }),
  });
  const anchors = scheduleAnchors(o.dataDir, rules);
  const timers = new Map<string, NodeJS.Timeout>();
  let closed = false;

  const fireAt = (rule: RuleModel, time: Date) =>
    Promise.all(rule.targets.map((t) => deliveries.deliver(rule, t, scheduledEvent(rule, time)))).then(
      () => {},
    );

  const arm = (rule: RuleModel, schedule: Schedule) => {
    if (closed) return;
    const next = schedule(Date.now());
    // setTimeout holds at most ~24.8 days: wake up daily and look again.
    const wait = Math.min(next - Date.now(), 86_400_000);
    const timer = setTimeout(
      () => {
        if (Date.now() >= next) void fireAt(rule, new Date(next));
        arm(rule, schedule);
      },
      Math.max(0, wait),
    );
    timer.unref();
    timers.set(rule.logicalId, timer);
  };
  if (o.timers !== false) {
    for (const rule of rules) {
      if (rule.scheduleExpression)
        arm(rule, parseSchedule(rule.scheduleExpression, anchors[rule.arn] as number));
    }
  }

  const find = (ref: string) => rules.find((r) => r.logicalId === ref || r.name === ref || r.arn === ref);
  return {
    publish(event) {
      for (const rule of rules) {
        if (!rule.eventPattern || !matches(rule.eventPattern, event)) continue;
        for (const target of rule.targets)
          void deliveries.deliver(rule, target, event as Record<string, unknown>);
      }
    },
    async fire(ref, time) {
      const rule = find(ref);
      if (!rule?.scheduleExpression) throw new Error(`no enabled schedule rule ${ref}`);
      await fireAt(rule, time);
    },
    settled: () => deliveries.settled(),
    async close() {
      closed = true;
      for (const t of timers.values()) clearTimeout(t);
      await deliveries.close();
    },
  };
}

export function scheduledEvent(rule: RuleModel, time: Date): Record<string, unknown> {
  return {
    version: "0",
    id: randomUUID(),
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: LOCAL_ACCOUNT,
    time: time.toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: LOCAL_REGION,
    resources: [rule.arn],
    detail: {},
  };
}

/** When each schedule rule was created (first seen by the form), by rule ARN. */
function scheduleAnchors(dataDir: string, rules: RuleModel[]): Record<string, number> {
  const dir = join(dataDir, "events");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "schedules.json");
  let anchors: Record<string, number> = {};
  try {
    anchors = JSON.parse(readFileSync(file, "utf8")) as Record<string, number>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  let changed = false;
  for (const rule of rules) {
    if (rule.scheduleExpression && anchors[rule.arn] === undefined) {
      anchors[rule.arn] = Date.now();
      changed = true;
    }
  }
  if (changed) {
    writeFileSync(`${file}.tmp`, JSON.stringify(anchors));
    renameSync(`${file}.tmp`, file);
  }
  return anchors;
}

/** Each function's asynchronous invocation settings (AWS::Lambda::EventInvokeConfig), by function name. */
function readAsyncInvokeConfigs(assembly: Assembly): Map<string, AsyncInvokeConfig> {
  const configs = new Map<string, AsyncInvokeConfig>();
  for (const [, resource] of assembly.ofType("AWS::Lambda::EventInvokeConfig")) {
    const p = assembly.resolve(resource.Properties ?? {}) as Record<string, unknown>;
    const destination = (p["DestinationConfig"] as { OnFailure?: { Destination?: string } } | undefined)
      ?.OnFailure?.Destination;
    configs.set(String(p["FunctionName"]), {
      ...(p["MaximumRetryAttempts"] !== undefined && {
        maximumRetryAttempts: Number(p["MaximumRetryAttempts"]),
      }),
      ...(destination && { onFailure: destination }),
    });
  }
  return configs;
}
