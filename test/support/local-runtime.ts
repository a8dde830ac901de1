/**
 * A whole local runtime (API over HTTP, dynalite, local workflow engine, M365 simulator) for
 * end-to-end tests of API clients (the CLI, the console), with helpers to onboard tenants as a
 * partner and wait for their workflow.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Logger } from "@aws-lambda-powertools/logger";
import type { TenantStatus } from "../../functions/domain/tenant.ts";
import { type LocalRuntime, startLocalRuntime } from "../../infra/local/runtime.ts";
import { type ConsentChoices, consentAsAdmin } from "./browser.ts";
import { type OnboardOptions, onboardTenant } from "./onboard.ts";

/** Parsed JSON of many shapes; tests assert on it. */
// biome-ignore lint/suspicious/noExplicitAny: see above
export type Json = any;

export interface TestRuntime {
  runtime: LocalRuntime;
  url: string;
  opsKey: string;
  /** Calls the API with a key (the ops key by default); returns status and parsed body. */
  call(
    method: string,
    path: string,
    options?: { key?: string; body?: unknown },
  ): Promise<{ status: number; body: Json }>;
  createPartner(name: string): Promise<{ partnerId: string; apiKey: string }>;
  /** Onboards a fresh tenant (region us) as the partner, consenting when asked; its id. */
  onboard(partnerKey: string, options?: OnboardOptions): Promise<string>;
  /**
   * The customer's admin opens a consentUrl as a browser would, following every redirect and
   * keeping cookies: the simulator's admin consent page sends it to the service's consent
   * callback, whose page (the partner and the tenant) the admin continues from; the service
   * sends it on to the simulator's sign-in of the tenant (the admin signs in at once), which
   * sends it back to the callback with a code. Returns the last page. `choices`: what the admin
   * picks on the page (by default the page's defaults: least privilege set up by the sign-in).
   */
  consent(
    consentUrl: string,
    choices?: ConsentChoices,
  ): Promise<{ status: number; html: string; url: string }>;
  /** Polls the tenant until its status is one of `statuses`. */
  waitFor(tenantId: string, statuses: readonly TenantStatus[], timeoutMs?: number): Promise<Json>;
  close(): Promise<void>;
}

export async function startTestRuntime(
  options: {
    logLevel?: "INFO" | "ERROR";
    env?: NodeJS.ProcessEnv;
    /** An existing DATA_DIR (kept at close); a new temporary one by default. */
    dataDir?: string;
  } = {},
): Promise<TestRuntime> {
  // Request lines of the API's own logger would drown the test output.
  process.env["POWERTOOLS_LOG_LEVEL"] ??= "ERROR";
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), "runtime-")));
  const runtime = await startLocalRuntime({
    port: 0,
    dataDir,
    retryScale: 0.001,
    // No M365_* (the simulator is used) and no OPS_API_KEY (one is generated). Rate limits far
    // above what a test sends, unless a test sets them. Receivers of these tests listen on 127.0.0.1.
    env: {
      PARTNER_RATE_LIMIT_RPS: "1000",
      PARTNER_RATE_LIMIT_BURST: "2000",
      WEBHOOK_ALLOW_LOOPBACK: "true",
      ...options.env,
    },
    logger: new Logger({ serviceName: "test-runtime", logLevel: options.logLevel ?? "ERROR" }),
  });
  const simulator = runtime.simulator;
  if (!simulator) throw new Error("the test runtime needs the simulator");

  const call: TestRuntime["call"] = async (method, path, options = {}) => {
    const response = await fetch(`${runtime.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${options.key ?? runtime.opsApiKey}`,
        ...(options.body !== undefined && { "content-type": "application/json" }),
      },
      ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  };

  const waitFor: TestRuntime["waitFor"] = async (tenantId, statuses, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { body } = await call("GET", `/v1/tenants/${tenantId}`);
      if (statuses.includes(body?.status)) return body;
      if (Date.now() > deadline) {
        throw new Error(`tenant ${tenantId} is ${body?.status}, not ${statuses.join("/")}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  const consent: TestRuntime["consent"] = async (consentUrl, choices) => {
    const page = await consentAsAdmin(consentUrl, undefined, choices);
    return { status: page.status, html: page.html, url: page.url };
  };

  return {
    runtime,
    consent,
    url: runtime.url,
    opsKey: runtime.opsApiKey,
    call,
    waitFor,
    createPartner: async (name) => {
      const { status, body } = await call("POST", "/v1/partners", { body: { name } });
      if (status !== 201) throw new Error(`partner not created: ${status}`);
      return body;
    },
    onboard: (partnerKey, options = {}) =>
      onboardTenant(
        {
          call: (method, path, o) => call(method, path, o),
          failNext: (tenantId, cmdlet, fault, times) => simulator.failNext(tenantId, cmdlet, fault, times),
          demoAdmin: (tenantId) => simulator.demo(tenantId).admin,
          consent,
        },
        partnerKey,
        options,
      ),
    close: async () => {
      await runtime.close({ graceMs: 2_000 });
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
