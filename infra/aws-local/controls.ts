/**
 * The form's controls for tests and chaos, on the local AWS endpoint: `POST /_form/<name>?<query>`
 * (and the counts of `GET /_form/stats`). None of them exists in AWS; each stands for what an
 * operator, a schedule, time or a fault would do there.
 */
import type { UsagePlanModel } from "./apigateway/model.ts";
import type { LocalCloud } from "./cloud/index.ts";
import { awsJsonError } from "./contracts.ts";
import type { EventRules } from "./events/index.ts";
import type { LambdaService } from "./lambda/index.ts";
import type { StepFunctions } from "./stepfunctions/index.ts";
import type { Assembly } from "./template.ts";

export interface FormParts {
  assembly: Assembly;
  cloud: LocalCloud;
  lambda: LambdaService;
  events: EventRules;
  stepFunctions: StepFunctions;
}

export function registerControls({ assembly, cloud, lambda, events, stepFunctions }: FormParts): void {
  const control = cloud.endpoint.control.bind(cloud.endpoint);
  cloud.endpoint.extraStats(() => ({
    lambda: lambda.stats(),
    queues: Object.fromEntries(
      assembly.ofType("AWS::SQS::Queue").map(([id]) => [id, cloud.sqs.depth(assembly.getAtt(id, "Arn"))]),
    ),
  }));
  // Chaos: kill a function's environments (those mid-invocation answer Runtime.ExitError).
  control("kill-environments", (q) => ({ killed: lambda.killEnvironments(q.get("function") ?? "") }));
  // Chaos: a function's next crashes answer without an error type (Step Functions: Lambda.Unknown).
  control("fail-without-error-type", (q) => ({
    set: lambda.failWithoutErrorType(
      q.get("function") ?? "",
      Number(q.get("times") ?? 1),
      q.get("message") ?? "Process exited before completing request",
    ),
  }));
  // Chaos: the function's environment dies as it makes this call, before the service acts on it
  // (`target` ends the X-Amz-Target, e.g. StartExecution): a Lambda killed mid-invocation.
  const crashes: { fn: string; target: string; times: number }[] = [];
  control("crash-at-call", (q) => {
    crashes.push({
      fn: q.get("function") ?? "",
      target: q.get("target") ?? "",
      times: Number(q.get("times") ?? 1),
    });
    return { set: true };
  });
  cloud.endpoint.intercept((request) => {
    const crash = crashes.find((c) => c.fn === request.caller && request.target?.endsWith(`.${c.target}`));
    if (!crash) return undefined;
    if (--crash.times <= 0) crashes.splice(crashes.indexOf(crash), 1);
    lambda.killEnvironments(request.caller);
    return awsJsonError(500, "InternalFailure", "The calling environment died.");
  });
  // An operator's `aws lambda update-function-configuration --timeout` (Sandbox.Timedout sooner).
  control("set-function-timeout", (q) => ({
    updated: lambda.setTimeout(q.get("function") ?? "", Number(q.get("seconds"))),
  }));
  // Fire a schedule rule as at `time` (default now); answers when its targets are done.
  control("fire-rule", async (q) => {
    await events.fire(q.get("rule") ?? "", new Date(q.get("time") ?? Date.now()));
    return { fired: q.get("rule") };
  });
  // Answers once no execution is running (what `npm start`'s engine.idle() waits for); with
  // `tenant` (repeatable), none of those tenants' (their names carry the tenant id); with
  // `since` (epoch ms), none started at or after it: a suite waits for its own work only, not
  // for another suite's execution sleeping in a Retry on the same form.
  control("workflows-idle", async (q) => {
    const tenants = q.getAll("tenant");
    const since = Number(q.get("since") ?? 0);
    await stepFunctions.idle(
      (e) => e.startDate >= since && (tenants.length === 0 || tenants.some((t) => e.name.includes(t))),
    );
    return { idle: true };
  });
  // DynamoDB's TTL deletions as of `at` (an ISO time; default now).
  control("expire-items", async (q) => ({
    deleted: await cloud.expire(new Date(q.get("at") ?? Date.now())),
  }));
  // An operator's `aws secretsmanager put-secret-value` (e.g. rotating the ops key).
  control("put-secret", (q) => {
    const arn = assembly.ofType("AWS::SecretsManager::Secret").find(([id]) => id === q.get("secret"));
    if (!arn) return { error: "no such secret" };
    cloud.secrets.put(assembly.ref(arn[0]), q.get("value") ?? "");
    return { put: arn[0] };
  });
  // A message on a queue as any sender could put it (a body the consumer must survive).
  control("send-message", (q) => {
    const queue = cloud.sqs.queue(q.get("queue") ?? "");
    if (!queue) return { error: "no such queue" };
    const groupId = q.get("group");
    return cloud.sqs.send(queue, {
      body: q.get("body") ?? "",
      ...(groupId ? { groupId, dedupId: crypto.randomUUID() } : {}),
    });
  });
}

/**
 * An operator's `aws apigateway update-usage-plan --usage-plan-id <id> --patch-operations
 * op=replace,path=/throttle/rateLimit,value=<n> op=replace,path=/throttle/burstLimit,value=<n>`:
 * `POST /_form/set-usage-plan-throttle?plan=<name>&rateLimit=<n>&burstLimit=<n>`; answers the
 * throttle it replaced. Every key of the plan gets a full bucket of the new size.
 */
export function registerApiControls(cloud: LocalCloud, usagePlans: readonly UsagePlanModel[]): void {
  cloud.endpoint.control("set-usage-plan-throttle", (q) => {
    const plan = usagePlans.find((p) => p.name === q.get("plan"));
    if (!plan) return { error: "no such usage plan", plans: usagePlans.map((p) => p.name) };
    const rateLimit = Number(q.get("rateLimit"));
    const burstLimit = Number(q.get("burstLimit"));
    if (!(rateLimit > 0) || !Number.isInteger(burstLimit) || burstLimit < 0) {
      return { error: "rateLimit must be > 0 and burstLimit a whole number" };
    }
    const previous = plan.throttle;
    plan.throttle = { rateLimit, burstLimit };
    return { plan: plan.name, previous, throttle: plan.throttle };
  });
}
