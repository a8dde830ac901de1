/**
 * One handle on either form of the service for the end-to-end suites, chosen by `FORM`:
 * `npm test` runs them on the local form (`npm start`'s runtime, in this process), `npm run
 * test:aws` sets FORM=aws and runs them on the AWS form (`npm run start:aws` as a child process
 * group, reached over HTTP only). A suite written against the handle holds on both; a test that
 * needs the local form's internals reads `f.local` and is skipped on the AWS form with its reason.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inject } from "vitest";
import type {
  RemoteSimulatorControl,
  SimulatorControl,
  SimulatorEndpoints,
} from "../../infra/local/m365-simulator/index.ts";
import { AwsForm, SHARED_FORM_ENV } from "../aws/support/form.ts";
import { type Json, startTestRuntime, type TestRuntime } from "./local-runtime.ts";
import { onboardTenant } from "./onboard.ts";

export type { Json };
export type FormName = "local" | "aws";

/** The form this run tests (`FORM=aws`: the AWS form). */
export const form: FormName = process.env["FORM"] === "aws" ? "aws" : "local";

/** How much longer waits are on the AWS form (cold starts, a process per function, DynamoDB Local). */
export const slower = form === "aws" ? 4 : 1;

/** The drift check schedule's rule in the template (the AWS form fires it on request). */
const DRIFT_RULE = "WorkflowDriftCheckTickC2F18183";
/** The partners' usage plan in the template (each partner key's request limit). */
const PARTNER_USAGE_PLAN = "JournalOnboarding-partners";

export interface FormHandle {
  form: FormName;
  url: string;
  opsKey: string;
  /** The Microsoft 365 simulator's control API (the same calls on both forms, all async). */
  sim: RemoteSimulatorControl;
  /** The simulator's address, its app (client id and secret) and its endpoints. */
  simulator: { url: string; clientId: string; clientSecret: string; endpoints: SimulatorEndpoints };
  /** Calls the API with a key (the ops key by default); status, parsed body and headers. */
  call(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; body: Json; headers: Headers }>;
  createPartner: TestRuntime["createPartner"];
  /** Registers a fresh tenant (region us) as the partner and has its admin consent; its id. */
  onboard: TestRuntime["onboard"];
  consent: TestRuntime["consent"];
  /** Polls the tenant (as ops) until its status is one of `statuses`. */
  waitFor: TestRuntime["waitFor"];
  /**
   * Waits until no workflow of this suite runs (drift checks included); given tenant ids, none of
   * those tenants' (the local form's engine is this suite's own: it waits for all).
   */
  idle(...tenantIds: string[]): Promise<void>;
  /** Waits until no webhook delivery is due (one whose retry waits minutes does not count on the local form). */
  deliveriesIdle(): Promise<void>;
  /**
   * Sets each partner key's request limit as an operator would (the AWS form: the partners' usage
   * plan's throttle; the local form: PARTNER_RATE_LIMIT_*, there one limit for every key, ops's
   * too); without a limit, restores the form's own.
   */
  limitPartners(limit?: { ratePerSecond: number; burst: number }): Promise<void>;
  /**
   * Runs one tick of the drift check schedule as at `now`, and waits for the checks it started.
   * On the AWS form the fan-out spreads the starts over 4 of the tick's 5 minutes when more than
   * one tenant of the form is due (its phases and the 3 ticks it catches up): at once for one.
   */
  driftTick(now?: Date): Promise<void>;
  /** What the service logged so far (the AWS form's log file; on the local form, undefined: capture stdout). */
  logs(): string | undefined;
  /**
   * What the form itself serves on loopback (its API, the simulator, its database; on the AWS
   * form the local AWS endpoint too): a webhook may target none of them.
   */
  ownUrls: string[];
  /** The local form's runtime (undefined on the AWS form). */
  local: TestRuntime | undefined;
  /** The AWS form's process (undefined on the local form). */
  aws: AwsForm | undefined;
  close(): Promise<void>;
}

export interface FormOptions {
  /** Variables of the service (`npm start` / `npm run start:aws` read the same ones). */
  env?: Record<string, string>;
  logLevel?: "INFO" | "ERROR";
}

/** Starts the form of this run. */
export async function startForm(options: FormOptions = {}): Promise<FormHandle> {
  return form === "aws" ? await startAwsForm(options) : await startLocalForm(options);
}

/** The in-process simulator's calls, each as a promise (as the remote control answers them). */
function asRemote(sim: SimulatorControl): RemoteSimulatorControl {
  return new Proxy({} as RemoteSimulatorControl, {
    get: (_target, name) => {
      const fn = (sim as unknown as Record<string | symbol, unknown>)[name];
      if (typeof fn !== "function") return undefined;
      return async (...args: unknown[]) => (fn as (...a: unknown[]) => unknown).apply(sim, args);
    },
  });
}

async function startLocalForm(options: FormOptions): Promise<FormHandle> {
  const rt = await startTestRuntime({
    ...(options.env && { env: options.env }),
    ...(options.logLevel && { logLevel: options.logLevel }),
  });
  const simulator = rt.runtime.simulator!;
  const call: FormHandle["call"] = async (method, path, o = {}) => {
    const response = await fetch(`${rt.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${o.key ?? rt.opsKey}`,
        ...(o.body !== undefined && { "content-type": "application/json" }),
        ...o.headers,
      },
      ...(o.body !== undefined && { body: JSON.stringify(o.body) }),
    });
    return { status: response.status, body: await parsed(response), headers: response.headers };
  };
  const idle = () => rt.runtime.engine.idle();
  const ownLimit = { ...rt.runtime.rateLimiter.limit };
  const deliveriesIdle = () => rt.runtime.webhooks.dispatcher.idle();
  return {
    form: "local",
    url: rt.url,
    opsKey: rt.opsKey,
    sim: asRemote(simulator),
    simulator: {
      url: simulator.url,
      clientId: simulator.clientId,
      clientSecret: simulator.clientSecret,
      endpoints: simulator.endpoints,
    },
    call,
    createPartner: rt.createPartner,
    onboard: rt.onboard,
    consent: rt.consent,
    waitFor: rt.waitFor,
    idle,
    deliveriesIdle,
    limitPartners: async (limit) => void Object.assign(rt.runtime.rateLimiter.limit, limit ?? ownLimit),
    driftTick: async (now) => {
      await rt.runtime.driftTick(now);
      await rt.runtime.engine.idle();
    },
    logs: () => undefined,
    ownUrls: [rt.url, simulator.url, ...Object.values(simulator.endpoints), rt.runtime.dynamoEndpoint],
    local: rt,
    aws: undefined,
    close: () => rt.close(),
  };
}

async function startAwsForm(options: FormOptions): Promise<FormHandle> {
  // A suite that sets nothing of its own uses the run's shared form (test/aws/global-setup.ts);
  // it makes its own partners and tenants, so suites do not see each other's.
  const shared = !options.env && !options.logLevel ? inject("sharedAwsForm") : undefined;
  const aws = shared
    ? AwsForm.attach(shared)
    : new AwsForm({
        ...SHARED_FORM_ENV,
        ...(options.logLevel && { LOG_LEVEL: options.logLevel }),
        ...options.env,
      });
  if (!shared) await aws.start();
  const app = JSON.parse(readFileSync(join(aws.dataDir, "m365-simulator", "simulator.json"), "utf8"));
  const call: FormHandle["call"] = (method, path, o = {}) =>
    aws.call(method, path, { ...o, key: o.key ?? aws.opsKey });
  // 30 s x4 by default: an onboarding took 33 s on this form with the machine at a load of 30.
  const waitFor: FormHandle["waitFor"] = async (tenantId, statuses, timeoutMs = 30_000) =>
    await aws.waitFor(tenantId, aws.opsKey, [...statuses], timeoutMs * slower);
  // The shared form outlives this suite: wait for this suite's executions (or these tenants'),
  // never for another suite's execution sleeping in a Retry.
  const attachedAt = String(Date.now());
  const workflowsIdle = async (...tenants: string[]) =>
    void (await aws.control("workflows-idle", { since: attachedAt, tenant: tenants }));
  const deliveriesIdle = async () => {
    // Webhook deliveries: the stream forwarder fills the queue a moment after the writes, the
    // dispatcher empties it; idle once the queue stays empty for a while (bounded: a receiver
    // that keeps failing keeps its message).
    const deadline = Date.now() + 30_000;
    let quiet = 0;
    while (quiet < 4 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      const { queues } = await aws.stats();
      quiet = (queues["WebhooksQueueCBC86013"] ?? 0) === 0 ? quiet + 1 : 0;
    }
  };
  let ownThrottle: { rateLimit: number; burstLimit: number } | undefined;
  const limitPartners: FormHandle["limitPartners"] = async (limit) => {
    const throttle = limit ? { rateLimit: limit.ratePerSecond, burstLimit: limit.burst } : ownThrottle;
    if (!throttle) return;
    const answer = await aws.control("set-usage-plan-throttle", {
      plan: PARTNER_USAGE_PLAN,
      rateLimit: String(throttle.rateLimit),
      burstLimit: String(throttle.burstLimit),
    });
    if (answer.error) throw new Error(`usage plan not changed: ${JSON.stringify(answer)}`);
    ownThrottle ??= answer.previous;
  };
  const onboard: FormHandle["onboard"] = (partnerKey, o = {}) =>
    onboardTenant(
      {
        call: (method, path, c) => aws.call(method, path, c),
        failNext: (tenantId, cmdlet, fault, times) => aws.sim.failNext(tenantId, cmdlet, fault, times),
        demoAdmin: async (tenantId) => (await aws.sim.demo(tenantId)).admin,
        consent: (url) => aws.consent(url),
      },
      partnerKey,
      o,
    );
  return {
    form: "aws",
    url: aws.url,
    opsKey: aws.opsKey,
    sim: aws.sim,
    simulator: {
      url: aws.info.simulatorUrl ?? "",
      clientId: String(app.clientId),
      clientSecret: String(app.clientSecret),
      endpoints: aws.info.simulatorEndpoints!,
    },
    call,
    createPartner: (name) => aws.createPartner(name),
    onboard,
    consent: (url, choices) => aws.consent(url, choices),
    waitFor,
    idle: workflowsIdle,
    deliveriesIdle,
    limitPartners,
    driftTick: async (now) => {
      await aws.control("fire-rule", { rule: DRIFT_RULE, time: (now ?? new Date()).toISOString() });
      await workflowsIdle();
    },
    // The banner shows the generated ops key by design (as `npm start`'s does): not a log line.
    logs: () => aws.log().replace(/^ {2}Journal onboarding API[\s\S]*?Ctrl-C \(or SIGTERM\)[^\n]*$/gm, ""),
    ownUrls: [
      aws.url,
      aws.info.cloudUrl,
      ...(aws.info.dynamodbUrl ? [aws.info.dynamodbUrl] : []),
      ...(aws.info.simulatorUrl ? [aws.info.simulatorUrl] : []),
      ...Object.values(aws.info.simulatorEndpoints ?? {}),
    ],
    local: undefined,
    aws,
    close: async () => {
      // Every suite on this form: no call of any function was outside its role's policies.
      const { refusals } = await aws.stats();
      await aws.close();
      if (refusals.length > 0) throw new Error(`IAM refused calls: ${JSON.stringify(refusals)}`);
    },
  };
}

async function parsed(response: Response): Promise<Json> {
  const text = await response.text();
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
