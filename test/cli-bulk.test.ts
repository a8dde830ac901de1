/**
 * Bulk onboarding with the CLI, as a partner runs it: a file with bad rows that sends nothing at
 * all (each problem reported once), JSON lines, the ops key refused, a partner's request limit
 * waited out (against a running service on either form, test/support/form.ts), and throttling and
 * server errors waited out against a fake API. The import of a whole fleet (1,000 rows at full scale)
 * is in test/reliability/bulk-import.test.ts.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { demoOnboardingRequest } from "../infra/local/m365-simulator/index.ts";
import { csvRow, HEADER, records, tenantsOf as tenantsOfIn } from "./support/bulk.ts";
import { type CliRun, runCliProcess } from "./support/cli-process.ts";
import { type FormHandle, form, type Json, startForm } from "./support/form.ts";

let rt: FormHandle;
let dir: string;
let partner: { partnerId: string; apiKey: string };

function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliRun> {
  return runCliProcess(args, { ONBOARDING_API_URL: rt?.url, ONBOARDING_API_KEY: partner?.apiKey, ...env });
}

const tenantsOf = (key: string) => tenantsOfIn(rt, key);

beforeAll(async () => {
  rt = await startForm();
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

describe("tenants import against the service's own request limit", () => {
  it("waits out the 429s of a partner's limit (Retry-After): every row accepted, once", async () => {
    const own = await rt.createPartner("Throttled MSP");
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const file = join(dir, "throttled.jsonl");
    const rows = ids.map((id, i) =>
      demoOnboardingRequest(id, { customerName: `limited-${i}-${id.slice(0, 6)}` }),
    );
    await writeFile(file, `${rows.map((r) => JSON.stringify(r)).join("\n")}\n`);
    // One request in 100 s, burst 1: the key's first request takes the bucket's one token, the
    // next one is refused however slow the first answer on a busy machine (at one in 5 s, a first
    // answer of 5 s, as a cold authorizer on the AWS form under load can take, refilled it).
    await rt.limitPartners({ ratePerSecond: 0.01, burst: 1 });
    try {
      expect((await rt.call("GET", "/v1/tenants?limit=1", { key: own.apiKey })).status).toBe(200);
      const refused = await rt.call("GET", "/v1/tenants?limit=1", { key: own.apiKey });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      // One a second: the import's 4 rows, sent at once, meet 429s and wait.
      await rt.limitPartners({ ratePerSecond: 1, burst: 1 });
      const run = await cli(["--json", "tenants", "import", file, "--concurrency", "8"], {
        ONBOARDING_API_KEY: own.apiKey,
      });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ total: 4, accepted: 4, already: 0, failed: 0 });
      // The limit held the import back: 4 requests at 1 a second, the bucket holding 1.
      expect(run.ms).toBeGreaterThanOrEqual(3_000);
    } finally {
      await rt.limitPartners();
    }
    const listed = await tenantsOf(own.apiKey);
    expect(listed.map((t: Json) => t.tenantId).sort()).toEqual([...ids].sort());
  });
});

/** A fake API for `tenants import`: `answer(n, body)` answers the tenant's n-th POST. */
async function fakeApi(
  answer: (n: number, body: Json) => { status: number; headers?: Record<string, string> } | undefined,
) {
  const seen = new Map<string, number>();
  const keys = new Map<string, Set<string>>();
  const bodies = new Map<string, Json>();
  const server = createServer(async (req: IncomingMessage, res) => {
    let text = "";
    for await (const chunk of req) text += chunk;
    const now = new Date().toISOString();
    const tenant = (body: Json) => ({
      ...body,
      partnerId: "p",
      status: "queued",
      steps: [],
      createdAt: now,
      updatedAt: now,
    });
    if (req.method === "GET") {
      // A tenant read again (those already there): as registered.
      const body = bodies.get(req.url?.split("/").at(-1) ?? "");
      res.writeHead(body ? 200 : 404, { "content-type": "application/json" });
      return res.end(JSON.stringify(body ? tenant(body) : { status: 404 }));
    }
    const body = JSON.parse(text);
    bodies.set(body.tenantId, body);
    const key = String(req.headers["idempotency-key"]);
    keys.set(body.tenantId, (keys.get(body.tenantId) ?? new Set()).add(key));
    const n = (seen.get(body.tenantId) ?? 0) + 1;
    seen.set(body.tenantId, n);
    const fault = answer(n, body);
    if (fault) {
      res.writeHead(fault.status, { "content-type": "application/problem+json", ...fault.headers });
      return res.end(JSON.stringify({ title: "Fault", status: fault.status }));
    }
    // The second answer to one key is the first one replayed, as the API marks it.
    res.writeHead(202, {
      "content-type": "application/json",
      ...(n > 1 && { "idempotent-replayed": "true" }),
    });
    res.end(JSON.stringify(tenant(body)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { seen, keys, url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

// A fake API of this process: nothing of the form is involved, so the local run covers both forms.
describe.skipIf(form === "aws")("tenants import against a flaky API", () => {
  it("waits out 429 (Retry-After) and 5xx, with the same Idempotency-Key on every attempt", async () => {
    const api = await fakeApi((n) =>
      n === 1 ? { status: 429, headers: { "retry-after": "1" } } : n === 2 ? { status: 503 } : undefined,
    );
    const { seen, keys } = api;
    try {
      const file = join(dir, "flaky.csv");
      await writeFile(file, `${HEADER}\n${[1, 2, 3].map((i) => csvRow(i)).join("\n")}\n`);
      const run = await cli(["tenants", "import", file], {
        ONBOARDING_API_URL: api.url,
        ONBOARDING_API_KEY: "jok_fake",
      });
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain("3 accepted");
      expect([...seen.values()]).toEqual([3, 3, 3]);
      for (const set of keys.values()) expect(set.size).toBe(1);
    } finally {
      await api.close();
    }
  });

  it("a row whose answer was lost (504) and whose resend gets the replay counts as accepted, not already there", async () => {
    // The row of customer-1 was sent by an earlier run: its first POST here is throttled (never
    // handled), the second is that earlier run's answer replayed: already there.
    const api = await fakeApi((n, body) =>
      n === 1
        ? { status: body.customerName === "customer-1" ? 429 : 504, headers: { "retry-after": "0" } }
        : undefined,
    );
    try {
      const file = join(dir, "lost.csv");
      await writeFile(file, `${HEADER}\n${[1, 2, 3].map((i) => csvRow(i)).join("\n")}\n`);
      const run = await cli(["--json", "tenants", "import", file], {
        ONBOARDING_API_URL: api.url,
        ONBOARDING_API_KEY: "jok_fake",
      });
      expect(run.code, run.stderr).toBe(0);
      const summary = JSON.parse(run.stdout);
      expect(summary).toMatchObject({ total: 3, accepted: 2, already: 1, failed: 0 });
      expect(summary.rows.map((r: Json) => r.result)).toEqual(["already", "accepted", "accepted"]);
      expect([...api.seen.values()]).toEqual([2, 2, 2]);
    } finally {
      await api.close();
    }
  });

  it("a row still in progress (409 with Retry-After) after its answer was lost is waited out beyond 3 attempts", async () => {
    // A slow first request: its answer lost (504), the resends find it still running (the API's
    // 409 idempotency-in-progress, Retry-After) three times, then get its answer replayed.
    const api = await fakeApi((n) =>
      n === 1 ? { status: 504 } : n <= 4 ? { status: 409, headers: { "retry-after": "0" } } : undefined,
    );
    try {
      const file = join(dir, "slow.csv");
      await writeFile(file, `${HEADER}\n${csvRow(1)}\n`);
      const run = await cli(["--json", "tenants", "import", file], {
        ONBOARDING_API_URL: api.url,
        ONBOARDING_API_KEY: "jok_fake",
      });
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ total: 1, accepted: 1, already: 0, failed: 0 });
      expect([...api.seen.values()]).toEqual([5]);
    } finally {
      await api.close();
    }
  });
});
