/**
 * A partner's fleet on the AWS form, as a partner and its customers would bring it: `tenants
 * import` of N CSV rows (every mode: eu, us, split, with and without the outbound gateway) through
 * the CLI, then each customer's admin consents through the link in the result file (a few at a
 * time, a 429 waited out and the page reloaded, an error started again from the link), then the partner's
 * tenant list is read until every tenant has ended; a second import of the same file must send
 * nothing new. Used by test/aws/fleet.test.ts (small N) and the aws-form benchmark (N=1,000).
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseCsv } from "../../../functions/cli/csv.ts";
import { type Page, TestBrowser } from "../../support/browser.ts";
import { csvRow, HEADER } from "../../support/bulk-rows.ts";
import { runCliProcess } from "../../support/cli-process.ts";
import type { AwsForm, Json } from "./form.ts";

export interface FleetOptions {
  tenants: number;
  /** The CLI's `--concurrency` (requests in flight). @default 16 */
  importConcurrency?: number;
  /** Admins consenting at the same moment. @default 8 */
  consentConcurrency?: number;
  /** Stop consenting and waiting this long after the import started (tenants left are not succeeded). @default 30 min */
  timeoutMs?: number;
  /** Called about every 10 s while waiting, with the statuses so far. */
  onProgress?: (line: string) => void;
  /** Called once every tenant has ended, before the checks that follow (events, a second import). */
  onEnded?: () => Promise<void>;
  /** Read the events of this many tenants (the first listed) for a second start. @default all */
  eventsOf?: number;
  /** Import the file a second time (it must send nothing new). @default true */
  secondImport?: boolean;
}

export interface FleetRun {
  tenants: number;
  /** The partner's API key (its tenants are the fleet's). */
  partnerKey: string;
  /** The import's JSON summary (`--json`). */
  importSummary: Json;
  importCode: number | null;
  importStderr: string;
  /** Seconds: the import, the consents (from the first), every tenant ended (from the import's start). */
  importSeconds: number;
  consentSeconds: number;
  totalSeconds: number;
  /** Consent pages answered 429 (then reloaded after Retry-After or 1 s). */
  consentThrottles: number;
  /** Consents that did not end on a 200 page after 5 tries. */
  consentFailures: string[];
  statuses: Record<string, number>;
  /** Tenants not succeeded: id, status, error code and message. */
  notSucceeded: string[];
  /** Tenant ids listed more than once, and the number listed. */
  listed: number;
  duplicateIds: number;
  /** The second import of the same file: its exit code and `accepted`/`already` counts (-1: not run). */
  second: { code: number | null; accepted: number; already: number; failed: number };
  /** When each tenant was first seen ended, in seconds from the import's start. */
  endedAt: number[];
  /** Tenants whose events show the onboarding started other than once (a second workflow). */
  startedTwice: string[];
  /** Tenants whose events were read for that. */
  eventsRead: number;
  /** The tenants as last listed (steps with their times). */
  items: Json[];
}

const ENDED = ["succeeded", "failed", "offboarded"];

/** Runs the fleet on a started form; the form is left running (the caller reads its stats). */
export async function runFleet(form: AwsForm, options: FleetOptions): Promise<FleetRun> {
  const dir = await mkdtemp(join(tmpdir(), "aws-fleet-"));
  try {
    const partner = await form.createPartner(`Fleet MSP ${randomUUID().slice(0, 8)}`);
    const env = { ONBOARDING_API_URL: form.url, ONBOARDING_API_KEY: partner.apiKey };
    const file = join(dir, "fleet.csv");
    const rows = Array.from({ length: options.tenants }, (_, i) => csvRow(i));
    await writeFile(file, `${HEADER}\r\n${rows.join("\r\n")}\r\n`);
    const args = [
      "--json",
      "tenants",
      "import",
      file,
      "--concurrency",
      String(options.importConcurrency ?? 16),
    ];
    const started = performance.now();
    const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
    const imported = await runCliProcess(args, env);
    const importSeconds = (performance.now() - started) / 1000;
    const importSummary = parseJson(imported.stdout);
    options.onProgress?.(`imported in ${Math.round(importSeconds)} s: ${imported.stdout.slice(0, 200)}`);
    const links = await consentLinks(join(dir, "fleet.results.csv"));
    const consentStarted = performance.now();
    const consent = await consentAll(links, options.consentConcurrency ?? 8, deadline);
    const consentSeconds = (performance.now() - consentStarted) / 1000;
    options.onProgress?.(`consents in ${Math.round(consentSeconds)} s (${consent.throttles} answered 429)`);
    const ended = await waitForFleet(form, partner.apiKey, options, started, deadline);
    const totalSeconds = (performance.now() - started) / 1000;
    await options.onEnded?.();
    const sample = ended.items.slice(0, options.eventsOf ?? ended.items.length);
    const startedTwice = await onboardingsStartedTwice(form, partner.apiKey, sample);
    const again = options.secondImport === false ? undefined : await runCliProcess(args, env);
    const secondSummary = parseJson(again?.stdout ?? "");
    return {
      tenants: options.tenants,
      partnerKey: partner.apiKey,
      importSummary,
      importCode: imported.code,
      importStderr: imported.stderr.slice(-4000),
      importSeconds,
      consentSeconds,
      totalSeconds,
      consentThrottles: consent.throttles,
      consentFailures: consent.failures,
      ...ended,
      startedTwice,
      eventsRead: sample.length,
      second: {
        code: again ? again.code : null,
        accepted: secondSummary?.accepted ?? -1,
        already: secondSummary?.already ?? -1,
        failed: secondSummary?.failed ?? -1,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The consent links of the result file's rows that await consent. */
async function consentLinks(resultFile: string): Promise<string[]> {
  const [header, ...rows] = parseCsv(await readFile(resultFile, "utf8"));
  const at = header!.fields.indexOf("consentUrl");
  return rows.map((r) => r.fields[at] ?? "").filter((url) => url !== "");
}

/**
 * Every admin consents, `concurrency` at a time, as a person would: a page answered 429 is
 * reloaded after its Retry-After (or 1 s), the same page in the same browser; a consent that
 * ends on another error is started again from its link, up to 5 times.
 */
async function consentAll(
  links: string[],
  concurrency: number,
  deadline: number,
): Promise<{ throttles: number; failures: string[] }> {
  let next = 0;
  const counts = { throttles: 0 };
  const failures: string[] = [];
  const worker = async () => {
    while (next < links.length && Date.now() < deadline) {
      const url = links[next++]!;
      let page: Page | undefined;
      for (let attempt = 1; attempt <= 5 && page?.status !== 200; attempt++) {
        page = await consentOnce(url, deadline, counts);
      }
      if (page?.status !== 200) failures.push(`${page?.status} ${page?.url}: ${page?.html.slice(0, 200)}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { throttles: counts.throttles, failures };
}

/** One admin in a fresh browser: opens the link, clicks Continue (the page's own choices), signs in. */
async function consentOnce(url: string, deadline: number, counts: { throttles: number }): Promise<Page> {
  const browser = new TestBrowser();
  const open = async (target: string) => {
    let page = await browser.open(target);
    while (page.status === 429 && Date.now() < deadline) {
      counts.throttles++;
      const seconds = Number(page.headers.get("retry-after") ?? "1");
      await new Promise((r) => setTimeout(r, (Number.isFinite(seconds) ? seconds : 1) * 1000));
      page = await browser.open(page.url);
    }
    return page;
  };
  const page = await open(url);
  const form = page.status === 200 ? TestBrowser.formUrl(page) : undefined;
  return form ? await open(form) : page;
}

/** Reads the partner's tenants (all pages) until every one has ended or the time is up. */
async function waitForFleet(
  form: AwsForm,
  key: string,
  options: FleetOptions,
  started: number,
  deadline: number,
) {
  const endedAt = new Map<string, number>();
  let lastLine = 0;
  for (;;) {
    const items = await listTenants(form, key);
    const now = (performance.now() - started) / 1000;
    for (const t of items)
      if (ENDED.includes(t.status) && !endedAt.has(t.tenantId)) endedAt.set(t.tenantId, now);
    const statuses: Record<string, number> = {};
    for (const t of items) statuses[t.status] = (statuses[t.status] ?? 0) + 1;
    const done = items.length >= options.tenants && items.every((t: Json) => ENDED.includes(t.status));
    if (done || Date.now() > deadline) {
      return {
        statuses,
        notSucceeded: items
          .filter((t: Json) => t.status !== "succeeded")
          .map((t: Json) => `${t.tenantId} ${t.status} ${t.error?.code ?? ""}: ${t.error?.message ?? ""}`),
        listed: items.length,
        duplicateIds: items.length - new Set(items.map((t: Json) => t.tenantId)).size,
        endedAt: [...endedAt.values()].sort((a, b) => a - b),
        items,
      };
    }
    if (options.onProgress && Date.now() - lastLine > 10_000) {
      lastLine = Date.now();
      options.onProgress(`${Math.round(now)} s: ${JSON.stringify(statuses)}`);
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
}

/** Tenants whose event history has other than one `tenant.onboarding.started` (8 reads at a time). */
async function onboardingsStartedTwice(form: AwsForm, key: string, items: Json[]): Promise<string[]> {
  const twice: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const { tenantId } = items[next++];
      let res = await form.call("GET", `/v1/tenants/${tenantId}/events?limit=100`, { key });
      while (res.status === 429) {
        await new Promise((r) => setTimeout(r, 1_000));
        res = await form.call("GET", `/v1/tenants/${tenantId}/events?limit=100`, { key });
      }
      const starts = (res.body.items as Json[]).filter((e) => e.type === "tenant.onboarding.started");
      if (starts.length !== 1) twice.push(`${tenantId}: ${starts.length} starts`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return twice;
}

/** Every tenant the key sees, all pages (a 429 is waited out). */
async function listTenants(form: AwsForm, key: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const query = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await form.call("GET", `/v1/tenants?${query}`, { key });
    if (res.status === 429) {
      await new Promise((r) => setTimeout(r, 1_000));
      continue;
    }
    if (res.status !== 200) throw new Error(`GET /v1/tenants: ${res.status} ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}
