/**
 * The whole service in one process (`npm start`): the API behind a local HTTP server, the
 * same handlers as Lambda, DynamoDB served by dynalite on a worker thread with its state in
 * DATA_DIR (or any DYNAMODB_ENDPOINT), the workflow definition AWS runs executed by aws-local-stepfunctions,
 * and, unless M365_* variables are set, the Microsoft 365 simulator on its own worker thread
 * (outside the service's event loop; the service trusts its CA).
 *
 * After a crash it resumes: events a crash left in a tenant's outbox are written out, and
 * tenants whose workflow was running are marked failed (or offboarding_failed) with a clear
 * error, so a retry finishes them.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import { DynamoChangeLogStore } from "../../functions/adapters/dynamodb/change-log-store.ts";
import { DynamoClaimStore } from "../../functions/adapters/dynamodb/claim-store.ts";
import { createDocumentClient, createDynamoClient } from "../../functions/adapters/dynamodb/client.ts";
import { reserveCustomerNamesAtStart } from "../../functions/adapters/dynamodb/customer-names.ts";
import { DynamoDriftDue } from "../../functions/adapters/dynamodb/drift-due.ts";
import { backfillListKeys } from "../../functions/adapters/dynamodb/list-keys.ts";
import { DEFAULT_TABLE_NAME } from "../../functions/adapters/dynamodb/schema.ts";
import { DynamoSignInStates } from "../../functions/adapters/dynamodb/sign-in-states.ts";
import { ensureTable } from "../../functions/adapters/dynamodb/table.ts";
import { DynamoTenantStore } from "../../functions/adapters/dynamodb/tenant-store.ts";
import { sweepExpired } from "../../functions/adapters/dynamodb/ttl-sweep.ts";
import { createAdminSignIn, type SignInCredential } from "../../functions/adapters/m365/admin-sign-in.ts";
import { createM365Gateway, createM365GatewayFromEnv } from "../../functions/adapters/m365/gateway.ts";
import { LocalWorkflowEngine } from "../../functions/adapters/workflow/local-engine.ts";
import { createApi } from "../../functions/api/app.ts";
import { CONSENT_CALLBACK_PATH, createConsentLinks } from "../../functions/api/consent.ts";
import { TableIdempotencyLayer } from "../../functions/api/idempotency.ts";
import { RateLimiter, rateLimitFromEnv } from "../../functions/api/rate-limit.ts";
import { readM365AppConfig, resolveM365Endpoints, retentionFromEnv } from "../../functions/commons/config.ts";
import { generateApiKey, generateOpsKey, hashApiKey } from "../../functions/domain/api-keys.ts";
import {
  DEFAULT_DRIFT_CHECK_INTERVAL_MS,
  DEFAULT_REMEDIATIONS_PER_DAY,
  parseDriftInterval,
} from "../../functions/domain/drift.ts";
import { tickMs } from "../../functions/domain/drift-ticks.ts";
import type { ErrorInfo } from "../../functions/domain/errors.ts";
import type { M365Gateway } from "../../functions/domain/m365.ts";
import type { TenantChange } from "../../functions/domain/store.ts";
import type { TenantStatus } from "../../functions/domain/tenant.ts";
import { runDriftTick, succeededPages } from "../../functions/tasks/drift-schedule.ts";
import { recordEndedExecution } from "../../functions/tasks/execution-ended.ts";
import { createTaskRouter } from "../../functions/tasks/router.ts";
import type { StepResult } from "../../functions/tasks/task-context.ts";
import { createTaskHandlers } from "../../functions/tasks/task-handlers.ts";
import { createLocalWebhooks, type LocalWebhooks } from "../../functions/webhooks/index.ts";
import { lockDataDir } from "./data-dir-lock.ts";
import { startDynalite } from "./dynamodb.ts";
import { type LocalHttpServer, startHttpServer } from "./http-server.ts";
import type { Simulator, SimulatorConfig, SimulatorOptions } from "./m365-simulator/index.ts";
import { startSimulatorThread } from "./m365-simulator/thread.ts";
import { loopbackPorts } from "./own-ports.ts";
import { rememberSimulatorPort, simulatorPort } from "./simulator-port.ts";
import { localTenantLeases } from "./tenant-leases.ts";

export interface LocalRuntimeOptions {
  /** @default process.env.PORT ?? 3000; 0 picks a free port */
  port?: number;
  /** @default process.env.DATA_DIR ?? ".data" */
  dataDir?: string;
  /** @default process.env (DYNAMODB_ENDPOINT, OPS_API_KEY, M365_*, TABLE_NAME) */
  env?: NodeJS.ProcessEnv;
  /** Options of the built-in simulator (used when no M365 app is configured). */
  simulator?: SimulatorOptions;
  /** Multiplies the workflow's Retry intervals (tests). @default process.env.WORKFLOW_RETRY_SCALE ?? 1 */
  retryScale?: number;
  /** Where the runtime's own lines go. @default a Powertools logger */
  logger?: Logger;
  /** Told of every step result (tests, benchmarks). */
  onStepResult?: (result: StepResult) => void;
}

export interface LocalRuntime {
  url: string;
  opsApiKey: string;
  /** Whether the ops key was generated by this start (print it then). */
  opsApiKeyGenerated: boolean;
  dataDir: string;
  /** The DynamoDB endpoint in use (the embedded engine's, or DYNAMODB_ENDPOINT). */
  dynamoEndpoint: string;
  store: DynamoTenantStore;
  engine: LocalWorkflowEngine;
  webhooks: LocalWebhooks;
  /** The audit trail of writes in customers' tenants. */
  changeLog: DynamoChangeLogStore;
  /** Runs one tick of the drift check schedule now (the timer does it every tick; tests call it). */
  driftTick(now?: Date): Promise<number>;
  simulator: Simulator | undefined;
  m365: M365Gateway;
  /** Tenants the start-up found interrupted and marked failed. */
  recovered: string[];
  /**
   * Graceful stop: the API stops accepting requests (those in progress finish), running
   * workflows get `graceMs` to finish; any still running then is stopped between steps (the
   * step in progress is let finish, for up to `stepGraceMs` more) and marked INTERRUPTED at the
   * next start. Then the webhook dispatcher, the engine, the simulator and DynamoDB stop and
   * the DATA_DIR lock is released.
   */
  close(options?: { graceMs?: number; stepGraceMs?: number }): Promise<void>;
}

/** How long running workflows get to finish on a stop (`SHUTDOWN_GRACE_MS`). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
/** How long a step still running at the end of the grace period gets (the execution stops after it). */
const STEP_GRACE_MS = 10_000;

const INTERRUPTED: ErrorInfo = {
  code: "INTERRUPTED",
  message: "The service stopped while this tenant's workflow was running; retry the tenant to finish it.",
};

export async function startLocalRuntime(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
  const env = options.env ?? process.env;
  const logger = options.logger ?? new Logger({ serviceName: "journal-onboarding-local" });
  const dataDir = resolve(options.dataDir ?? env["DATA_DIR"] ?? ".data");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const releaseDataDir = await lockDataDir(dataDir);
  const closers: (() => Promise<void>)[] = [async () => releaseDataDir()];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
  };

  try {
    // DynamoDB: the embedded engine persisted under DATA_DIR, or the given endpoint.
    let endpoint = env["DYNAMODB_ENDPOINT"];
    const embedded = !endpoint;
    if (!endpoint) {
      // On its own thread: the service's event loop runs the service, not the database.
      const dynalite = await startDynalite({ path: join(dataDir, "dynamodb"), thread: true });
      closers.push(() => dynalite.close());
      endpoint = dynalite.endpoint;
    }
    const tableName = env["TABLE_NAME"] ?? DEFAULT_TABLE_NAME;
    const ownPorts: number[] = loopbackPorts([endpoint]);
    const client = createDynamoClient({ endpoint, embedded });
    await ensureTable(client, tableName);
    const docClient = createDocumentClient({ client });
    // State of an earlier version: its tenants, partners and deliveries get their sharded list keys (once).
    const listKeysDone = join(dataDir, `list-keys-v2-${tableName}`);
    if (!existsSync(listKeysDone)) {
      await backfillListKeys({ client: docClient, table: tableName });
      await writeFile(listKeysDone, `${new Date().toISOString()}\n`);
    }
    // State of an earlier version: customerName was reserved per partner at claim time (once).
    const namesDone = join(dataDir, `customer-names-v2-${tableName}`);
    if (!existsSync(namesDone)) {
      await reserveCustomerNamesAtStart({ client: docClient, table: tableName }, logger);
      await writeFile(namesDone, `${new Date().toISOString()}\n`);
    }
    const cursorSecret = await keptSecret(join(dataDir, "cursor-secret"), () => generateApiKey());
    // Webhooks: every event the store writes goes to the in-process dispatcher. Receivers on
    // loopback (over http too) only with WEBHOOK_ALLOW_LOOPBACK=true, and never this service's
    // own ports (the API's, the simulator's, the embedded DynamoDB's).
    const retention = retentionFromEnv(env);
    // Endpoint secrets are stored encrypted (AES-256-GCM) with a key kept in DATA_DIR.
    const webhookSecretKey = Buffer.from(
      await keptSecret(join(dataDir, "webhook-secret-key"), () => randomBytes(32).toString("base64")),
      "base64",
    );
    const webhooks = createLocalWebhooks({
      docClient,
      tableName,
      cursorSecret,
      retentionDays: retention.eventDays,
      secretKey: webhookSecretKey,
      allowInsecureLoopback: env["WEBHOOK_ALLOW_LOOPBACK"] === "true",
      refusedLoopbackPorts: () => ownPorts,
      ...(env["WEBHOOK_RETRY_SCHEDULE"] !== undefined && { retrySchedule: env["WEBHOOK_RETRY_SCHEDULE"] }),
      ...(env["WEBHOOK_TIMEOUT_MS"] && { timeoutMs: Number(env["WEBHOOK_TIMEOUT_MS"]) }),
    });
    const store = new DynamoTenantStore({
      client: docClient,
      tableName,
      cursorSecret,
      retention,
      onEvents: webhooks.dispatcher.enqueue,
      // A running workflow's outbox is trimmed once per 8 events, not after each.
      lazyOutboxTrim: true,
    });
    webhooks.dispatcher.attachStore(store);
    closers.push(() => webhooks.dispatcher.close());
    const changeLog = new DynamoChangeLogStore({
      client: docClient,
      tableName,
      cursorSecret,
      partnerOf: async (tenantId) => (await store.getTenant(tenantId))?.tenant.partnerId,
      retentionDays: retention.eventDays,
    });
    const driftIntervalMs = parseDriftInterval(env["DRIFT_CHECK_INTERVAL"]);
    const remediationsPerDay = Number(env["DRIFT_REMEDIATIONS_PER_DAY"] ?? DEFAULT_REMEDIATIONS_PER_DAY);
    if (!Number.isInteger(remediationsPerDay) || remediationsPerDay < 0) {
      throw new RangeError("DRIFT_REMEDIATIONS_PER_DAY must be a whole number >= 0");
    }

    // Microsoft 365: the configured app, else the simulator (its state kept in DATA_DIR too),
    // on a worker thread: its TLS, JSON and cmdlets stay off the service's event loop.
    const lease = localTenantLeases(docClient, tableName, dataDir);
    closers.push(() => lease.releaseIdle());
    let simulator: Simulator | undefined;
    let m365 = createM365GatewayFromEnv(env, { lease });
    if (!m365) {
      const simulatorDir = join(dataDir, "m365-simulator");
      simulator = await startSimulatorThread({
        dataDir: simulatorDir,
        port: await simulatorPort(simulatorDir, env),
        ...simulatorConfigFromEnv(env["M365_SIMULATOR_CONFIG"]),
        ...options.simulator,
      });
      await rememberSimulatorPort(simulatorDir, simulator.url);
      closers.push(() => simulator!.close());
      ownPorts.push(...loopbackPorts([simulator.url, ...Object.values(simulator.endpoints)]));
      m365 = createM365Gateway({
        clientId: simulator.clientId,
        clientSecret: simulator.clientSecret,
        endpoints: simulator.endpoints,
        lease,
        onWarning: ({ tenantId, cmdlet, warnings }) =>
          logger.warn("Exchange warnings", { tenantId, cmdlet, warnings }),
      });
    }

    // Task invocations in progress: a stop lets them finish even when it stops their execution.
    const tasksInFlight = new Set<Promise<unknown>>();
    const track = <T extends Record<string, (input: never) => Promise<unknown>>>(all: T): T =>
      Object.fromEntries(
        Object.entries(all).map(([name, handler]) => [
          name,
          (input: never) => {
            const promise = handler(input);
            tasksInFlight.add(promise);
            void promise.then(
              () => tasksInFlight.delete(promise),
              () => tasksInFlight.delete(promise),
            );
            return promise;
          },
        ]),
      ) as T;
    // Drift remediation starts onboarding runs on the engine built below.
    let engineRef: LocalWorkflowEngine | undefined;
    const handlers = createTaskHandlers({
      store,
      m365,
      changeLog,
      onChangeLogError: (err) => logger.error("could not record a change", { error: String(err) }),
      remediationsPerDay,
      startOnboarding: async (input) => {
        if (!engineRef) throw new Error("the engine is not started");
        await engineRef.start("onboarding", input);
      },
      onStepResult: (result) => {
        const { tenantId, step, outcome, durationMs, changes, error, rawMessage } = result;
        if (outcome === "failed")
          logger.warn("step failed", { tenantId, step, durationMs, error, rawMessage });
        else if (outcome === "succeeded")
          logger.info("step succeeded", { tenantId, step, durationMs, changes });
        options.onStepResult?.(result);
      },
      onEvent: (event) =>
        logger.info("tenant event", {
          tenantId: event.data.tenantId,
          event: event.type,
          sequence: event.data.sequence,
          status: event.data.status,
          ...(event.data.error && { error: event.data.error }),
        }),
    });
    const engine = new LocalWorkflowEngine({
      route: createTaskRouter(track(handlers)),
      retryScale: options.retryScale ?? Number(env["WORKFLOW_RETRY_SCALE"] ?? 1),
      onExecutionEnd: (name, { kind, input, ...result }) => {
        logger.info("execution ended", { execution: name, tenantId: input.tenantId, ...result });
        // As the EventBridge watchdog does in AWS: a run that ended without its outcome is failed.
        if (result.status === "FAILED") {
          void recordEndedExecution(
            store,
            { kind, ...input, status: result.status },
            new Date().toISOString(),
          ).catch((err: unknown) =>
            logger.error("could not record an ended execution", { execution: name, error: String(err) }),
          );
        }
      },
    });
    engineRef = engine;
    closers.push(() => engine.close());

    // Drift checks: every tick starts the checks of the tenants whose tick it is (spread over
    // DRIFT_CHECK_INTERVAL; 0 switches the schedule off).
    const driftDue = new DynamoDriftDue({ client: docClient, table: tableName });
    const driftTick = async (now = new Date()) => {
      await driftDue.enrolEarlier(succeededPages(store), new Date().toISOString());
      return runDriftTick({
        due: driftDue,
        starter: engine,
        intervalMs: driftIntervalMs || DEFAULT_DRIFT_CHECK_INTERVAL_MS,
        at: now,
        onError: (err, tenantId) =>
          logger.warn("could not start a drift check", { tenantId, error: String(err) }),
      });
    };
    if (driftIntervalMs > 0) {
      let ticking = false;
      const timer = setInterval(() => {
        if (ticking) return;
        ticking = true;
        driftTick()
          .catch((err: unknown) => logger.warn("drift check tick failed", { error: String(err) }))
          .finally(() => {
            ticking = false;
          });
      }, tickMs(driftIntervalMs));
      timer.unref();
      closers.push(async () => clearInterval(timer));
    }

    // Undispatched events first: a new event must not move a tenant's dispatch cursor past them.
    await webhooks.dispatcher.recover();
    const recovered = await recoverInterrupted(store);
    if (recovered.length > 0) logger.warn("marked interrupted tenants failed", { tenants: recovered });

    // Retention: the embedded engine has no TTL, so expired items are swept at start and then
    // every TTL_SWEEP_MINUTES, as DynamoDB's TTL deletes them in AWS.
    const sweep = async () => {
      try {
        const deleted = await sweepExpired({ client: docClient, table: tableName });
        if (deleted > 0) logger.info("swept expired items", { deleted });
      } catch (err) {
        logger.warn("sweeping expired items failed; trying again later", { error: String(err) });
      }
    };
    await sweep();
    const sweepMinutes = Number(env["TTL_SWEEP_MINUTES"] ?? 60);
    if (!(sweepMinutes > 0))
      throw new Error(`TTL_SWEEP_MINUTES must be a positive number; got "${env["TTL_SWEEP_MINUTES"]}"`);
    const sweeper = setInterval(sweep, sweepMinutes * 60_000);
    sweeper.unref();
    closers.push(async () => clearInterval(sweeper));

    // The ops key: OPS_API_KEY, else one generated once (`jops_...`) and kept in DATA_DIR. A key
    // kept by an earlier version (`jok_...`, the partner prefix) is still accepted as it is.
    const keyFile = join(dataDir, "ops-api-key");
    const opsApiKeyGenerated = !env["OPS_API_KEY"] && !existsSync(keyFile);
    const opsApiKey = env["OPS_API_KEY"] ?? (await keptSecret(keyFile, generateOpsKey));

    // Binding by consent: claims and customer names on the same table; consent links carry a
    // state signed with a key kept in DATA_DIR, and send the admin back to this service, which
    // then has the admin sign in (the configured app's credential, or the simulator's).
    const consentSecret = await keptSecret(join(dataDir, "consent-state-secret"), () => generateApiKey());
    let apiUrl = "";
    const gateway = m365;
    const app = readM365AppConfig(env);
    const signInApp: {
      clientId: string;
      credential: SignInCredential;
      authorityHost: string;
      exchange: { endpoint: string };
    } = app
      ? {
          clientId: app.clientId,
          credential: app.clientCertificatePath
            ? { certificatePath: app.clientCertificatePath }
            : { clientSecret: app.clientSecret! },
          authorityHost: resolveM365Endpoints(env).endpoints.authorityHost,
          exchange: { endpoint: resolveM365Endpoints(env).endpoints.exchange },
        }
      : {
          clientId: simulator!.clientId,
          credential: { clientSecret: simulator!.clientSecret },
          authorityHost: simulator!.endpoints.authorityHost,
          exchange: { endpoint: simulator!.endpoints.exchange },
        };
    const consentRedirect = () =>
      env["M365_CONSENT_REDIRECT_URI"]?.trim() || `${apiUrl}${CONSENT_CALLBACK_PATH}`;
    const binding = {
      claims: new DynamoClaimStore({ client: docClient, tableName, cursorSecret }),
      changeLog,
      links: createConsentLinks({
        secret: consentSecret,
        adminConsentUrl: (tenantId) => gateway.consentUrl(tenantId),
        redirectUri: consentRedirect,
        signIns: new DynamoSignInStates({ client: docClient, tableName }),
        signIn: createAdminSignIn({
          ...signInApp,
          ...(app && resolveM365Endpoints(env).explicitAuthorityHost && { disableInstanceDiscovery: true }),
          onFailure: (failure) => logger.warn("consent sign-in not redeemed", failure),
        }),
      }),
    };

    const api = createApi({
      store,
      engine,
      binding,
      opsKeyHash: hashApiKey(opsApiKey),
      idempotency: new TableIdempotencyLayer({ client, tableName }),
      webhooks: webhooks.service,
      changeLog,
      driftChecks: engine,
      rateLimiter: new RateLimiter(rateLimitFromEnv(env)),
      m365AppId: async () => simulator?.clientId ?? readM365AppConfig(env)?.clientId,
    });
    const port = options.port ?? Number(env["PORT"] ?? 3000);
    const http: LocalHttpServer = await startHttpServer({ handler: api, port });
    apiUrl = http.url;
    closers.push(() => http.close());
    // Entra accepts only the app's registered redirect URIs: the simulator's app gets the
    // callback (a simulator on its own thread answers asynchronously: wait for it).
    if (simulator) await Promise.resolve(simulator.registerRedirectUri(consentRedirect()));
    ownPorts.push(Number(new URL(http.url).port));

    return {
      url: http.url,
      opsApiKey,
      opsApiKeyGenerated,
      dataDir,
      dynamoEndpoint: endpoint,
      store,
      engine,
      webhooks,
      changeLog,
      driftTick,
      simulator,
      m365,
      recovered,
      close: async ({ graceMs = DEFAULT_SHUTDOWN_GRACE_MS, stepGraceMs = STEP_GRACE_MS } = {}) => {
        // No new requests (hence no new workflows); requests in progress get a moment.
        await http.close(Math.min(graceMs, 5_000));
        const running = engine.executions().filter((e) => e.status === "RUNNING").length;
        if (running > 0) logger.info("waiting for running workflows", { running, graceMs });
        const idle = await Promise.race([
          engine.idle().then(() => true),
          new Promise<false>((r) => setTimeout(() => r(false), graceMs).unref()),
        ]);
        if (!idle) {
          // Stop the executions between steps; the steps in progress finish and record their result.
          const stopped = engine.close();
          await Promise.race([
            Promise.allSettled([...tasksInFlight]),
            new Promise((r) => setTimeout(r, stepGraceMs).unref()),
          ]);
          await stopped;
          logger.warn("stopped workflows still running; a retry finishes them", {
            tenants: engine
              .executions()
              .filter((e) => e.status === "ABORTED")
              .map((e) => e.input.tenantId),
          });
        }
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/**
 * One service per DATA_DIR: its embedded DynamoDB files can have one owner only. A lock file
 * holds the owner's pid; one left by a process that is gone (a crash) is taken over.
 */

/** Reads a secret kept in a file (mode 600), creating it once. */
async function keptSecret(file: string, create: () => string): Promise<string> {
  try {
    const value = (await readFile(file, "utf8")).trim();
    if (value) return value;
  } catch {
    // not there yet
  }
  const value = create();
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return value;
}

/** Marks tenants a crash left mid-workflow as failed, with an event, so they can be retried. */
async function recoverInterrupted(store: DynamoTenantStore): Promise<string[]> {
  await store.flushAllOutboxes();
  const interrupted: Record<string, TenantChange> = {
    queued: {
      status: "failed",
      error: INTERRUPTED,
      event: { type: "tenant.onboarding.failed", error: INTERRUPTED },
    },
    running: {
      status: "failed",
      error: INTERRUPTED,
      event: { type: "tenant.onboarding.failed", error: INTERRUPTED },
    },
    offboarding: {
      status: "offboarding_failed",
      error: INTERRUPTED,
      event: { type: "tenant.offboarding.failed", error: INTERRUPTED },
    },
  };
  const recovered: string[] = [];
  for (const [status, change] of Object.entries(interrupted)) {
    let cursor: string | undefined;
    do {
      const page = await store.listTenants({
        status: status as TenantStatus,
        limit: 100,
        ...(cursor ? { cursor } : {}),
      });
      for (const tenant of page.items) {
        const steps = Object.fromEntries(
          tenant.steps
            .filter((s) => s.status === "running")
            .map((s) => [s.name, { status: "failed" as const, error: INTERRUPTED }]),
        );
        try {
          await store.transition(
            tenant.tenantId,
            { ...change, expectStatus: [status as TenantStatus], steps },
            new Date().toISOString(),
          );
          recovered.push(tenant.tenantId);
        } catch {
          // it moved on meanwhile
        }
      }
      cursor = page.nextCursor;
    } while (cursor);
  }
  return recovered;
}

/**
 * `M365_SIMULATOR_CONFIG`: JSON of the simulator's settings and real-world behaviours (for
 * example `{"replicationLagCalls":2,"ndrClearing":"never","maxConcurrentPerTenant":3}`); the
 * simulator checks each value.
 */
function simulatorConfigFromEnv(raw: string | undefined): SimulatorConfig {
  if (!raw?.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error('M365_SIMULATOR_CONFIG must be a JSON object, e.g. {"replicationLagCalls":2}');
  }
  return parsed as SimulatorConfig;
}
