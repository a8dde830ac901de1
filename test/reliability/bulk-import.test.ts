/**
 * A partner's whole fleet through the CLI: `tenants import` of many CSV rows (1,000 at full
 * scale, 100 in `npm test`; split and single-region) against a whole local runtime, followed to
 * the end with `--wait`; a second run that sends nothing new; `tenants export` read back and
 * imported again.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvRow, HEADER, records, tenantsOf as tenantsOfIn } from "../support/bulk.ts";
import { type CliRun, runCliProcess } from "../support/cli-process.ts";
import { type Json, startTestRuntime, type TestRuntime } from "../support/local-runtime.ts";
import { sized } from "./support/scale.ts";

const ROWS = sized(100, 1000);
/** The local runtime onboards about 10 tenants a second on 2 cores (docs/benchmarks.md). */
const BULK_TIMEOUT = 300_000;

let rt: TestRuntime;
let dir: string;
let partner: { partnerId: string; apiKey: string };

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCliProcess(args, { ONBOARDING_API_URL: rt?.url, ONBOARDING_API_KEY: partner?.apiKey, ...env });
}

const tenantsOf = (key: string) => tenantsOfIn(rt, key);

async function eventCount(tenantId: string): Promise<number> {
  const { body } = await rt.call("GET", `/v1/tenants/${tenantId}/events?limit=100`);
  return body.items.length;
}

beforeAll(async () => {
  rt = await startTestRuntime();
  partner = await rt.createPartner("Bulk MSP");
  dir = await mkdtemp(join(tmpdir(), "bulk-"));
});

afterAll(async () => {
  await rt?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe(`tenants import of ${ROWS} rows`, () => {
  const file = () => join(dir, "fleet.csv");
  const results = () => join(dir, "fleet.results.csv");
  let firstEvents: Map<string, number>;
  let firstStatuses: Map<string, string>;

  it(
    "sends every row, follows them with --wait to their end states and writes the result file",
    async () => {
      // Nothing runs for a tenant before its customer consents through the partner's link:
      // every row ends awaiting_consent (the consents of some customers follow below).
      const consenting: string[] = [];
      const rows = Array.from({ length: ROWS }, (_, i) => {
        const tenantId = randomUUID();
        if (i % 10 === 0) consenting.push(tenantId);
        return csvRow(i, tenantId);
      });
      await writeFile(file(), `${HEADER}\r\n${rows.join("\r\n")}\r\n`);
      const run = await cli(["--json", "tenants", "import", file(), "--wait", "--concurrency", "8"]);
      const summary = JSON.parse(run.stdout);
      console.info(
        `import of ${ROWS} rows: sent in ${summary.seconds} s; with --wait ${(run.ms / 1000).toFixed(1)} s; end states ${JSON.stringify(summary.statuses)}`,
        (summary.rows as Json[])
          .filter((r) => r.tenantStatus === "failed")
          .map((r) => `${r.tenantId} ${r.errorCode}: ${r.errorMessage}`)
          .join("\n"),
      );
      expect(summary).toMatchObject({ total: ROWS, sent: ROWS, accepted: ROWS, already: 0, failed: 0 });
      expect(summary.settled).toBe(true);
      // Every tenant settled: none consented yet, so every one awaits consent.
      const statuses = summary.statuses as Record<string, number>;
      expect(Object.values(statuses).reduce((x, y) => x + y, 0)).toBe(ROWS);
      // No tenant may fail: each failure is shown, and the exit code is 0.
      const failedRows = (summary.rows as Json[]).filter((r) => r.tenantStatus === "failed");
      expect(failedRows.slice(0, 3)).toEqual([]);
      expect(run.code, run.stderr).toBe(0);
      expect(statuses["awaiting_consent"] ?? 0).toBe(ROWS);
      // Plain progress lines (stderr is not a terminal): a line per tenth, no escape codes.
      expect(run.stderr).toContain(`sent ${ROWS}/${ROWS}  accepted ${ROWS}  already 0  failed 0`);
      expect(run.stderr).not.toContain("\u001b");
      expect(run.stderr).toMatch(/waiting: awaiting_consent \d+/);
      expect(run.stderr.split("\n").length).toBeLessThan(40);

      const written = await records(results());
      expect(written).toHaveLength(ROWS);
      expect(Object.keys(written[0]!)).toEqual([
        "row",
        "tenantId",
        "customerName",
        "result",
        "tenantStatus",
        "errorCode",
        "errorMessage",
        "consentUrl",
      ]);
      expect(written[0]).toMatchObject({ row: "2", customerName: "customer-0", result: "accepted" });
      const awaiting = written.filter((r) => r["tenantStatus"] === "awaiting_consent");
      expect(awaiting).toHaveLength(statuses["awaiting_consent"] ?? 0);
      expect(awaiting[0]!["errorCode"]).not.toBe("");
      expect(written.filter((r) => r["tenantStatus"] === "succeeded")).toHaveLength(
        statuses["succeeded"] ?? 0,
      );

      // One customer in ten consents through the partner's link: those tenants onboard.
      for (const tenantId of consenting) {
        const { body } = await rt.call("GET", `/v1/tenants/${tenantId}`, { key: partner.apiKey });
        expect((await rt.consent(body.consentUrl)).status).toBe(200);
      }
      for (const tenantId of consenting) await rt.waitFor(tenantId, ["succeeded", "failed"], 60_000);

      const tenants = await tenantsOf(partner.apiKey);
      expect(tenants).toHaveLength(ROWS);
      expect(tenants.filter((t) => t.status === "succeeded").length).toBeGreaterThan(ROWS / 10 - ROWS / 100);
      const split = tenants.filter((t) => t.region === "split");
      expect(split.length).toBeGreaterThan(ROWS * 0.3);
      firstStatuses = new Map(tenants.map((t) => [t.tenantId, t.status]));
      firstEvents = new Map();
      for (const t of tenants.slice(0, Math.min(100, ROWS)))
        firstEvents.set(t.tenantId, await eventCount(t.tenantId));
    },
    BULK_TIMEOUT,
  );

  it(
    "a second run resumes: every row is already there, no tenant or workflow is added",
    async () => {
      const run = await cli(["tenants", "import", file()]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(`${ROWS} rows in`);
      expect(run.stdout).toContain(`0 accepted, ${ROWS} already there, 0 failed`);
      const written = await records(results());
      expect(new Set(written.map((r) => r["result"]))).toEqual(new Set(["already"]));

      const tenants = await tenantsOf(partner.apiKey);
      expect(tenants).toHaveLength(ROWS);
      expect(new Map(tenants.map((t) => [t.tenantId, t.status]))).toEqual(firstStatuses);
      // No new workflow: a run would have added events (onboarding.started, steps) to the tenant.
      for (const [tenantId, count] of firstEvents) expect(await eventCount(tenantId)).toBe(count);
      console.info(`second run: ${(run.ms / 1000).toFixed(1)} s, 0 duplicates`);
    },
    BULK_TIMEOUT,
  );

  it(
    "export writes every page as CSV (with --status), and its rows import again as already there",
    async () => {
      const out = join(dir, "export.csv");
      const run = await cli(["tenants", "export", "--out", out]);
      expect(run.code, run.stderr).toBe(0);
      const exported = await records(out);
      expect(exported).toHaveLength(ROWS);
      expect(Object.keys(exported[0]!)).toEqual([
        "tenantId",
        "customerName",
        "region",
        "outboundGateway",
        "ndrAddress",
        "status",
        "errorCode",
        "updatedAt",
        "partnerId",
        "consentUrl",
      ]);
      const imported = await records(file());
      const byId = new Map(exported.map((r) => [r["tenantId"], r]));
      for (const row of imported) {
        expect(byId.get(row["tenantId"]!)).toMatchObject({
          customerName: row["customerName"],
          region: row["region"],
          outboundGateway: row["outboundGateway"],
          ndrAddress: row["ndrAddress"],
          partnerId: partner.partnerId,
        });
      }

      const stdout = await cli(["tenants", "export", "--status", "succeeded"]);
      expect(stdout.code).toBe(0);
      const lines = stdout.stdout.trim().split("\r\n");
      expect(lines[0]).toBe(
        "tenantId,customerName,region,outboundGateway,ndrAddress,status,errorCode,updatedAt,partnerId,consentUrl",
      );
      expect(lines).toHaveLength(1 + [...firstStatuses.values()].filter((x) => x === "succeeded").length);
      expect(lines.slice(1).every((l) => l.includes(",succeeded,,") && l.endsWith(","))).toBe(true);

      // The export's single-region rows are an import file as they are (status columns ignored).
      const single = join(dir, "single.csv");
      const text = (await readFile(out, "utf8"))
        .split("\r\n")
        .filter((l, i) => i === 0 || !l.includes(",split,"));
      await writeFile(single, text.join("\r\n"));
      const again = await cli(["tenants", "import", single]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/0 accepted, \d+ already there, 0 failed/);
      expect(await tenantsOf(partner.apiKey)).toHaveLength(ROWS);
    },
    BULK_TIMEOUT,
  );
});
