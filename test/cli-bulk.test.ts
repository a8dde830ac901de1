/**
 * Bulk onboarding with the CLI, as a partner runs it: `tenants import` of 1,000 CSV rows (split
 * and single-region, valid for the Microsoft 365 simulator's demo mailboxes) against a whole
 * local runtime, followed to the end with `--wait`; a second run that sends nothing new; a file
 * with bad rows that sends nothing at all; `tenants export` read back and imported again; and
 * throttling and server errors waited out against a fake API.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../functions/cli/csv.ts";
import { demoOnboardingRequest } from "../infra/local/m365-simulator/index.ts";
import { type CliRun, runCliProcess } from "./support/cli-process.ts";
import { type Json, startTestRuntime, type TestRuntime } from "./support/local-runtime.ts";

const ROWS = 1000;
/** The local runtime onboards about 10 tenants a second on 2 cores (docs/benchmarks.md). */
const BULK_TIMEOUT = 300_000;
const HEADER =
  "tenantId,customerName,region,outboundGateway,ndrAddress,eu_group_name,eu_group_address,eu_group_members,us_group_name,us_group_address,us_group_members";

let rt: TestRuntime;
let dir: string;
let partner: { partnerId: string; apiKey: string };

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCliProcess(args, { ONBOARDING_API_URL: rt?.url, ONBOARDING_API_KEY: partner?.apiKey, ...env });
}

/** A CSV row for a simulated tenant: every third split (with both groups), the rest us or eu. */
function csvRow(i: number, tenantId: string = randomUUID()): string {
  const region = i % 3 === 0 ? "split" : i % 3 === 1 ? "us" : "eu";
  const body = demoOnboardingRequest(tenantId, {
    customerName: `customer-${i}`,
    region,
    outboundGateway: i % 2 === 0,
  });
  const group = (g: { name: string; primarySmtpAddress: string; members: string[] } | undefined) =>
    g ? [g.name, g.primarySmtpAddress, g.members.join(";")] : ["", "", ""];
  return [
    body.tenantId,
    body.customerName,
    body.region,
    String(body.outboundGateway),
    body.ndrAddress,
    ...group(body.groups?.eu),
    ...group(body.groups?.us),
  ].join(",");
}

async function tenantsOf(key: string): Promise<Json[]> {
  const items: Json[] = [];
  let cursor: string | undefined;
  do {
    const { status, body } = await rt.call(
      "GET",
      `/v1/tenants?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      { key },
    );
    expect(status).toBe(200);
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor);
  return items;
}

async function eventCount(tenantId: string): Promise<number> {
  const { body } = await rt.call("GET", `/v1/tenants/${tenantId}/events?limit=100`);
  return body.items.length;
}

const records = async (path: string) => {
  const [header, ...rows] = parseCsv(await readFile(path, "utf8"));
  const names = header!.fields;
  return rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r.fields[i] ?? ""])));
};

beforeAll(async () => {
  rt = await startTestRuntime();
  partner = await rt.createPartner("Bulk MSP");
  dir = await mkdtemp(join(tmpdir(), "bulk-"));
});

afterAll(async () => {
  await rt?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tenants import: validation before anything is sent", () => {
  it("lists every bad row with its row number, exits 2 and sends nothing", async () => {
    const own = await rt.createPartner("Careful MSP");
    const good = randomUUID();
    const lines = [
      HEADER,
      csvRow(0, good), // row 2: valid
      "not-a-guid,Bad Name,mars,maybe,nope,,,,,,", // row 3: five problems
      csvRow(1, good.toUpperCase()), // row 4: the same tenant as row 2
      csvRow(3).replace(",Journal US,", ",journal eu,"), // row 5: EU and US share a name
      `${randomUUID()},fine,us,false,admin@example.com,G,g@example.com,,,,`, // row 6: groups without split
      csvRow(4), // row 7: valid
    ];
    const file = join(dir, "bad.csv");
    await writeFile(file, `${lines.join("\n")}\n`);
    const run = await cli(["tenants", "import", file], { ONBOARDING_API_KEY: own.apiKey });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("row 3: tenantId: Must be a GUID");
    expect(run.stderr).toContain("row 3: customerName:");
    expect(run.stderr).toContain("row 3: region:");
    expect(run.stderr).toContain("row 3: outboundGateway: Must be true or false");
    expect(run.stderr).toContain("row 3: ndrAddress:");
    expect(run.stderr).toContain("row 4: tenantId: The same tenant as row 2");
    expect(run.stderr).toContain("row 5: us_group_name: The EU and US groups must have different names");
    // Each problem once, in one wording (not again as the schema's own check says it).
    expect(run.stderr.match(/^row 5:/gm)).toHaveLength(1);
    expect(run.stderr).toContain("row 6: eu_group_*/us_group_*: Only allowed when region is split");
    expect(run.stderr).toContain("4 row(s) of");
    expect(run.stderr).toContain("nothing was sent");
    expect(run.stderr).not.toMatch(/row [27]:/);
    expect(await tenantsOf(own.apiKey)).toHaveLength(0);
    await expect(stat(join(dir, "bad.results.csv"))).rejects.toThrow();

    const asJson = await cli(["--json", "tenants", "import", file], { ONBOARDING_API_KEY: own.apiKey });
    expect(asJson.code).toBe(2);
    const problem = JSON.parse(asJson.stderr);
    expect(problem.exitCode).toBe(2);
    expect(problem.errors).toContainEqual({ row: 4, field: "tenantId", message: "The same tenant as row 2" });
  });

  it("JSON lines: one request body per line, checked the same way; --dry-run sends nothing", async () => {
    const own = await rt.createPartner("Lines MSP");
    const ids = [randomUUID(), randomUUID()];
    const file = join(dir, "rows.jsonl");
    await writeFile(
      file,
      `${JSON.stringify(demoOnboardingRequest(ids[0]!, { region: "split" }))}\n\n${JSON.stringify(demoOnboardingRequest(ids[1]!))}\n`,
    );
    const dry = await cli(["tenants", "import", file, "--dry-run"], { ONBOARDING_API_KEY: own.apiKey });
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("2 rows are valid");
    expect(await tenantsOf(own.apiKey)).toHaveLength(0);

    const bad = join(dir, "bad.jsonl");
    await writeFile(bad, `{"tenantId":"${ids[0]}","customerName":"x","region":"us"}\nnot json\n`);
    const run = await cli(["tenants", "import", bad], { ONBOARDING_API_KEY: own.apiKey });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("row 1: ndrAddress:");
    expect(run.stderr).toContain("row 2: Not a JSON object");

    const sent = await cli(["tenants", "import", file], { ONBOARDING_API_KEY: own.apiKey });
    expect(sent.code, sent.stderr).toBe(0);
    expect(sent.stdout).toContain("2 accepted");
    expect((await records(join(dir, "rows.results.csv"))).map((r) => [r["row"], r["result"]])).toEqual([
      ["1", "accepted"],
      ["3", "accepted"],
    ]);
  });

  it("an ops key cannot onboard: exit 6 with Forbidden, nothing sent, no result file written", async () => {
    const file = join(dir, "ops.csv");
    await writeFile(file, `${HEADER}\n${csvRow(1)}\n`);
    const run = await cli(["tenants", "import", file], { ONBOARDING_API_KEY: rt.opsKey });
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/^onboarding: Forbidden/);
    await expect(stat(join(dir, "ops.results.csv"))).rejects.toThrow();
  });
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
      expect(split.length).toBeGreaterThan(300);
      firstStatuses = new Map(tenants.map((t) => [t.tenantId, t.status]));
      firstEvents = new Map();
      for (const t of tenants.slice(0, 100)) firstEvents.set(t.tenantId, await eventCount(t.tenantId));
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

describe("tenants import against a flaky API", () => {
  it("waits out 429 (Retry-After) and 5xx, with the same Idempotency-Key on every attempt", async () => {
    const seen = new Map<string, number>();
    const keys = new Map<string, Set<string>>();
    const server = createServer(async (req: IncomingMessage, res) => {
      let text = "";
      for await (const chunk of req) text += chunk;
      const body = JSON.parse(text);
      const key = String(req.headers["idempotency-key"]);
      keys.set(body.tenantId, (keys.get(body.tenantId) ?? new Set()).add(key));
      const n = (seen.get(body.tenantId) ?? 0) + 1;
      seen.set(body.tenantId, n);
      if (n === 1) {
        res.writeHead(429, { "retry-after": "1", "content-type": "application/problem+json" });
        return res.end(JSON.stringify({ title: "Too Many Requests", status: 429 }));
      }
      if (n === 2) {
        res.writeHead(503, { "content-type": "application/problem+json" });
        return res.end(JSON.stringify({ title: "Service Unavailable", status: 503 }));
      }
      const now = new Date().toISOString();
      res.writeHead(202, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          ...body,
          partnerId: "p",
          status: "queued",
          steps: [],
          createdAt: now,
          updatedAt: now,
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const file = join(dir, "flaky.csv");
      await writeFile(file, `${HEADER}\n${[1, 2, 3].map((i) => csvRow(i)).join("\n")}\n`);
      const { port } = server.address() as AddressInfo;
      const run = await cli(["tenants", "import", file], {
        ONBOARDING_API_URL: `http://127.0.0.1:${port}`,
        ONBOARDING_API_KEY: "jok_fake",
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("3 accepted");
      expect([...seen.values()]).toEqual([3, 3, 3]);
      for (const set of keys.values()) expect(set.size).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
