/**
 * The AWS form (`npm run start:aws`) as the suites use it: a child process group on a free
 * PORT with a temporary DATA_DIR, reached over HTTP only (the API, the simulator's control API,
 * the local AWS endpoint's stats). `kill()` SIGKILLs the whole group; `start()` again resumes
 * from the same DATA_DIR.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../../infra/aws-local/setup.ts";
import {
  connectSimulator,
  type RemoteSimulatorControl,
  type SimulatorEndpoints,
} from "../../../infra/local/m365-simulator/index.ts";
import { type ConsentChoices, consentAsAdmin } from "../../support/browser.ts";

// biome-ignore lint/suspicious/noExplicitAny: the API answers as the tests read them (JSON of any shape)
export type Json = any;

export interface FormInfo {
  url: string;
  cloudUrl: string;
  /** DynamoDB Local's own address (the functions reach it through the cloud endpoint). */
  dynamodbUrl?: string;
  simulatorUrl?: string;
  simulatorCaPath?: string;
  simulatorEndpoints?: SimulatorEndpoints;
}

export interface FormStats {
  calls: Record<string, number>;
  refusals: { caller: string; action: string; resource: string; message: string }[];
  lambda: Record<
    string,
    { coldStarts: number; invocations: number; throttles: number; environments: number }
  >;
  /** Messages in each queue, by logical id. */
  queues: Record<string, number>;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** The variables of the form the suites of both forms share (retries 1000 times faster). */
export const SHARED_FORM_ENV: Record<string, string> = { LOG_LEVEL: "WARN", WORKFLOW_RETRY_SCALE: "0.001" };

/** What another process needs to use a running form (test/aws/global-setup.ts shares one). */
export interface SharedForm {
  dataDir: string;
  info: FormInfo;
  opsKey: string;
}

export class AwsForm {
  readonly dataDir: string;
  readonly env: Record<string, string>;
  info!: FormInfo;
  opsKey = "";
  sim!: RemoteSimulatorControl;
  startedInMs = 0;
  #child: ChildProcess | undefined;
  #port = 0;

  /** Not started by this object: close() leaves it running (its owner stops it). */
  #attached = false;

  constructor(env: Record<string, string> = {}, dataDir?: string) {
    this.dataDir = dataDir ?? mkdtempSync(join(tmpdir(), "aws-form-"));
    this.env = env;
  }

  /** A form another process started and shares (see {@link SharedForm}). */
  static attach(shared: SharedForm): AwsForm {
    const form = new AwsForm({}, shared.dataDir);
    form.#attached = true;
    form.info = shared.info;
    form.opsKey = shared.opsKey;
    form.#connect();
    return form;
  }

  get shared(): SharedForm {
    return { dataDir: this.dataDir, info: this.info, opsKey: this.opsKey };
  }

  #connect(): void {
    if (this.info.simulatorUrl && this.info.simulatorCaPath) {
      this.sim = connectSimulator(this.info.simulatorUrl, {
        caPem: readFileSync(this.info.simulatorCaPath, "utf8"),
      });
    }
  }

  get url(): string {
    return this.info.url;
  }

  async start(): Promise<void> {
    this.#port ||= await freePort();
    const began = Date.now();
    const child = spawn(join(ROOT, "node_modules/.bin/node"), ["infra/aws-local/main.ts"], {
      cwd: ROOT,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PORT: String(this.#port),
        DATA_DIR: this.dataDir,
        WEBHOOK_ALLOW_LOOPBACK: "true",
        WORKFLOW_RETRY_SCALE: "0.01",
        LOG_LEVEL: "WARN",
        SHUTDOWN_GRACE_MS: "5000",
        ...this.env,
      },
    });
    this.#child = child;
    const log = createWriteStream(join(this.dataDir, "form.log"), { flags: "a" });
    child.stderr?.pipe(log);
    let out = "";
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      if (err.length < 100_000) err += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on("data", (chunk: Buffer) => {
        log.write(chunk);
        if (out.length < 100_000) out += chunk.toString();
        if (out.includes("Ctrl-C (or SIGTERM)")) resolve();
      });
      child.once("exit", (code) =>
        reject(new Error(`the form exited (${code}) before serving: ${out.slice(-2000)}${err.slice(-2000)}`)),
      );
    });
    this.startedInMs = Date.now() - began;
    this.info = JSON.parse(readFileSync(join(this.dataDir, "aws", "form.json"), "utf8")) as FormInfo;
    this.opsKey = /Ops API key\s+(\S+)/.exec(out)?.[1] ?? "";
    this.#connect();
  }

  /** SIGTERM and wait for the exit (the graceful stop); returns the exit code. */
  async stop(): Promise<number | null> {
    const child = this.#child;
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    const code = await exited;
    this.#child = undefined;
    return code;
  }

  /** Stops the form and removes its DATA_DIR (the end of a suite). */
  async close(): Promise<void> {
    if (this.#attached) return;
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** SIGKILLs the whole process group (the form, its JVM, its environments, at once). */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child?.pid) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    process.kill(-child.pid, "SIGKILL");
    await exited;
    this.#child = undefined;
    // The group's other members die with it; give the kernel a moment to reap them.
    await new Promise((r) => setTimeout(r, 300));
  }

  async call(
    method: string,
    path: string,
    options: { key?: string; body?: unknown; headers?: Record<string, string> } = {},
  ) {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        ...(options.key !== undefined ? { authorization: `Bearer ${options.key}` } : {}),
        ...(options.body !== undefined ? { "content-type": "application/json" } : {}),
        ...options.headers,
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    let body: Json = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: response.status, body, headers: response.headers };
  }

  async stats(): Promise<FormStats> {
    return (await (await fetch(`${this.info.cloudUrl}/_form/stats`)).json()) as FormStats;
  }

  /** A control call of the local AWS endpoint (`fire-rule`, `send-message`, `kill-environments`). */
  async control(name: string, query: Record<string, string | string[]>): Promise<Json> {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) for (const one of [v].flat()) params.append(k, one);
    const response = await fetch(`${this.info.cloudUrl}/_form/${name}?${params}`, {
      method: "POST",
    });
    return await response.json();
  }

  /** The tenant's record as the partner reads it. */
  async tenant(tenantId: string, key: string): Promise<Json> {
    return (await this.call("GET", `/v1/tenants/${tenantId}`, { key })).body;
  }

  /** Registers a tenant and has its admin consent; returns its id and the simulator's demo mailboxes. */
  async onboard(key: string, extra: Record<string, unknown> = {}): Promise<{ tenantId: string; demo: Json }> {
    const tenantId = crypto.randomUUID();
    const demo = await this.sim.demo(tenantId);
    const posted = await this.call("POST", "/v1/tenants", {
      key,
      body: {
        tenantId,
        customerName: `c-${tenantId.slice(0, 8)}`,
        region: "eu",
        ndrAddress: demo.admin,
        ...extra,
      },
    });
    if (posted.status !== 202)
      throw new Error(`tenant not accepted: ${posted.status} ${JSON.stringify(posted.body)}`);
    const consent = await this.consent(posted.body.consentUrl);
    if (consent.status !== 200) throw new Error(`consent not accepted: ${consent.status}`);
    return { tenantId, demo };
  }

  async createPartner(name: string): Promise<{ partnerId: string; apiKey: string }> {
    const res = await this.call("POST", "/v1/partners", { key: this.opsKey, body: { name } });
    if (res.status !== 201) throw new Error(`partner not created: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /**
   * The customer's admin opens the consent link in a browser: reads the page naming the partner
   * and the tenant, clicks Continue (the page's own choices), signs in; the last page.
   */
  async consent(
    consentUrl: string,
    choices: ConsentChoices = {},
  ): Promise<{ status: number; html: string; url: string }> {
    // The stage throttles the consent callback for all browsers at once (50/s, burst 600): a flow
    // answered 429 bound nothing, and is opened again after Retry-After, as an admin would reload.
    let page = await consentAsAdmin(consentUrl, undefined, choices);
    for (let tries = 1; page.status === 429 && tries < 10; tries++) {
      await new Promise((r) => setTimeout(r, 1_000 + Math.random() * 1_000));
      page = await consentAsAdmin(consentUrl, undefined, choices);
    }
    return { status: page.status, html: page.html, url: page.url };
  }

  async waitFor(tenantId: string, key: string, statuses: string[], timeoutMs = 60_000): Promise<Json> {
    const deadline = Date.now() + timeoutMs;
    let last: Json;
    while (Date.now() < deadline) {
      last = (await this.call("GET", `/v1/tenants/${tenantId}`, { key })).body;
      if (statuses.includes(last?.status)) return last;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(
      `tenant ${tenantId} not in ${statuses.join("/")} after ${timeoutMs} ms: ${JSON.stringify(last)}`,
    );
  }

  log(): string {
    return readFileSync(join(this.dataDir, "form.log"), "utf8");
  }
}
