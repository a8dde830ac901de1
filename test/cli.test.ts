/**
 * The ops CLI as ops run it: `node functions/cli/main.ts ...` in a child process, configured by
 * the environment only, against a running service on either form (test/support/form.ts: the
 * CLI talks HTTP only, so the AWS form's stage URL and keys are all it needs). Every command's
 * output and exit code, `--json` parsed, failures made real with the simulator's fault injection.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliRun, runCliProcess } from "./support/cli-process.ts";
import { type FormHandle, form, slower, startForm } from "./support/form.ts";

let rt: FormHandle;
let partner: { partnerId: string; apiKey: string };
/** Every stdout and stderr the CLI wrote, checked at the end for the key. */
const transcript: string[] = [];

type Run = CliRun;

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const run = await runCliProcess(args, {
    ONBOARDING_API_URL: rt.url,
    ONBOARDING_API_KEY: rt.opsKey,
    ...env,
  });
  transcript.push(run.stdout, run.stderr);
  return run;
}

const json = (run: Run) => JSON.parse(run.stdout);

beforeAll(async () => {
  rt = await startForm();
  partner = await rt.createPartner("Fabrikam MSP");
});

afterAll(async () => {
  await rt?.close();
});

// No request of these reaches the service: the local run covers both forms.
describe.skipIf(form === "aws")("usage", () => {
  it("--help lists the commands, the environment and the exit codes (exit 0)", async () => {
    const run = await cli(["--help"]);
    expect(run.code).toBe(0);
    for (const word of [
      "tenants",
      "webhooks",
      "partners",
      "ONBOARDING_API_URL",
      "ONBOARDING_API_KEY",
      "6 no key",
    ]) {
      expect(run.stdout).toContain(word);
    }
  });

  it("usage errors exit 2 with a message on stderr", async () => {
    const cases = [
      [],
      ["tenant", "list"],
      ["tenants", "list", "--limit", "0"],
      ["tenants", "list", "--limit", "101"],
      ["tenants", "list", "--status", "broken"],
      ["tenants", "show", "not-a-guid"],
      ["tenants", "retry"],
      ["tenants", "retry", "11111111-1111-4111-8111-111111111111", "--all-failed"],
      ["webhooks", "replay", "bad id!"],
    ];
    const runs = await Promise.all(cases.map((args) => cli(args)));
    runs.forEach((run, i) => {
      expect(run.code, cases[i]!.join(" ")).toBe(2);
      expect(run.stderr.length, cases[i]!.join(" ")).toBeGreaterThan(0);
      expect(run.stdout, cases[i]!.join(" ")).not.toMatch(/TENANT ID/);
    });
    expect(runs[2]!.stderr).toContain("Must be an integer from 1 to 100");
    expect(runs[6]!.stderr).toContain("Give either a tenant id or --all-failed");
  });

  it("a bad ONBOARDING_API_URL is a usage error; a URL with credentials is refused", async () => {
    const bad = await cli(["tenants", "list"], { ONBOARDING_API_URL: "ftp://127.0.0.1/" });
    expect(bad.code).toBe(2);
    const creds = await cli(["tenants", "list"], { ONBOARDING_API_URL: "http://u:p@127.0.0.1:1/" });
    expect(creds.code).toBe(2);
    expect(creds.stderr).toContain("must not carry credentials");
  });
});

describe("authentication and reachability", () => {
  // Before any request: the local run covers both forms.
  it.skipIf(form === "aws")("no ONBOARDING_API_KEY: exit 6 before any request", async () => {
    const run = await cli(["tenants", "list"], { ONBOARDING_API_KEY: undefined });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain("ONBOARDING_API_KEY is not set");
  });

  it("a refused key: exit 6 with the problem's title and detail", async () => {
    const run = await cli(["tenants", "list"], { ONBOARDING_API_KEY: "jok_not-a-real-key" });
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/Unauthorized: .*API key/);
    const refused = await rt.call("GET", "/v1/tenants", { key: "jok_not-a-real-key" });
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer realm=/);
  });

  it("a partner key on an ops-only command: exit 6 (403)", async () => {
    const run = await cli(["partners", "list"], { ONBOARDING_API_KEY: partner.apiKey });
    expect(run.code).toBe(6);
    expect(run.stderr).toContain("Forbidden");
  });

  // A port of this process with nothing on it: the local run covers both forms.
  it.skipIf(form === "aws")("nothing listening: exit 5", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));
    const run = await cli(["tenants", "list"], { ONBOARDING_API_URL: `http://127.0.0.1:${port}` });
    expect(run.code).toBe(5);
    expect(run.stderr).toContain(`Cannot reach the API at http://127.0.0.1:${port}`);
  });

  it("--json errors are one JSON problem on stderr", async () => {
    const run = await cli(["tenants", "show", "00000000-0000-4000-8000-000000000000", "--json"]);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe("");
    expect(JSON.parse(run.stderr)).toMatchObject({ status: 404, title: "Not found", exitCode: 3 });
  });
});

describe("partners", () => {
  it("create prints the new key once, and the key works", async () => {
    const run = await cli(["partners", "create", "Northwind Partners"]);
    expect(run.code).toBe(0);
    const key = /API key: (\S+)/.exec(run.stdout)?.[1];
    expect(key).toBeDefined();
    expect(run.stdout).toContain("shown once");
    const { status } = await rt.call("GET", "/v1/tenants", { key: key! });
    expect(status).toBe(200);
  });

  it("list shows partners as a table and as JSON", async () => {
    const table = await cli(["partners", "list", "--limit", "100"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^PARTNER ID\s+NAME\s+CREATED$/);
    expect(table.stdout).toContain("Fabrikam MSP");
    const list = json(await cli(["partners", "list", "--json", "--all"]));
    expect(list.items.map((p: { partnerId: string }) => p.partnerId)).toContain(partner.partnerId);
    expect(list.items.every((p: object) => !("apiKey" in p))).toBe(true);
  });

  it("an invalid name is the API's 400: exit 1 with the field problem", async () => {
    const run = await cli(["partners", "create", "x".repeat(201)]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("/body/name");
  });
});

describe("tenants", () => {
  let succeeded: string;
  let failed: string;

  beforeAll(async () => {
    [succeeded, failed] = await Promise.all([
      rt.onboard(partner.apiKey, { customerName: "contoso-cli" }),
      rt.onboard(partner.apiKey, { customerName: "adatum", failJournalRule: true }),
    ]);
    await Promise.all([rt.waitFor(succeeded, ["succeeded"]), rt.waitFor(failed, ["failed"])]);
  });

  it("list: a table, filtered by status, paged with --limit/--cursor, or --all", async () => {
    const all = await cli(["tenants", "list", "--partner", partner.partnerId]);
    expect(all.code).toBe(0);
    const lines = all.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TENANT ID\s+CUSTOMER\s+REGION\s+STATUS\s+PARTNER\s+UPDATED\s+ERROR$/);
    expect(lines.find((l) => l.startsWith(failed))).toMatch(/adatum\s+us\s+failed\s+.*M365_INVALID_REQUEST$/);
    expect(lines.find((l) => l.startsWith(succeeded))).toMatch(/contoso-cli\s+us\s+succeeded/);

    const onlyFailed = await cli(["tenants", "list", "--status", "failed", "--partner", partner.partnerId]);
    expect(onlyFailed.stdout).toContain(failed);
    expect(onlyFailed.stdout).not.toContain(succeeded);

    const first = await cli(["tenants", "list", "--limit", "1", "--partner", partner.partnerId, "--json"]);
    const page1 = json(first);
    expect(page1.items).toHaveLength(1);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const human = await cli(["tenants", "list", "--limit", "1", "--partner", partner.partnerId]);
    expect(human.stdout).toContain(`--cursor ${page1.nextCursor}`);
    const page2 = json(
      await cli([
        "tenants",
        "list",
        "--limit",
        "1",
        "--cursor",
        page1.nextCursor,
        "--partner",
        partner.partnerId,
        "--json",
      ]),
    );
    expect(page2.items[0].tenantId).not.toBe(page1.items[0].tenantId);

    const everything = json(
      await cli(["tenants", "list", "--all", "--limit", "1", "--partner", partner.partnerId, "--json"]),
    );
    expect(everything.nextCursor).toBeUndefined();
    expect(everything.items.map((t: { tenantId: string }) => t.tenantId)).toEqual(
      expect.arrayContaining([succeeded, failed]),
    );
  });

  it("show: fields, each step with status, attempts, timing and error, and the retry hint", async () => {
    const run = await cli(["tenants", "show", failed]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Tenant\s+/m);
    expect(run.stdout).toMatch(/^Status\s+failed$/m);
    expect(run.stdout).toMatch(
      /^Error\s+M365_INVALID_REQUEST: New-JournalRule: The journal rule quota is exhausted\.$/m,
    );
    expect(run.stdout).toMatch(/^STEP\s+STATUS\s+ATTEMPTS\s+STARTED\s+DURATION\s+ERROR$/m);
    expect(run.stdout).toMatch(/^check-access\s+succeeded\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\s+\d/m);
    expect(run.stdout).toMatch(/^connector\s+skipped\s+0$/m);
    expect(run.stdout).toMatch(/^journal-rules\s+failed\s+1\s+.*M365_INVALID_REQUEST: New-JournalRule/m);
    expect(run.stdout).toContain(`Retry with: npx onboarding tenants retry ${failed}`);
    expect(run.stdout).toMatch(/What [A-Z0-9_]+ means and how to fix it: GET \/v1\/errors/);

    const asJson = json(await cli(["tenants", "show", failed, "--json"]));
    expect(asJson).toEqual((await rt.call("GET", `/v1/tenants/${failed}`)).body);
  });

  it("show of an unknown tenant: exit 3", async () => {
    const run = await cli(["tenants", "show", "00000000-0000-4000-8000-000000000000"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain("Not found");
  });

  it("events: the history in sequence order", async () => {
    const run = await cli(["tenants", "events", failed]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^TIME\s+SEQ\s+TYPE\s+STEP\s+STATUS\s+ERROR$/);
    expect(lines[1]).toMatch(/\s1\s+tenant\.onboarding\.started\s/);
    expect(lines.at(-1)).toMatch(/tenant\.onboarding\.failed\s+failed\s+M365_INVALID_REQUEST/);
    const events = json(await cli(["tenants", "events", failed, "--json"]));
    const sequences = events.items.map((e: { data: { sequence: number } }) => e.data.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(events.items.length).toBe(lines.length - 1);
  });

  it("retry: a succeeded tenant is a conflict (exit 4); the failed one restarts and succeeds", async () => {
    const conflict = await cli(["tenants", "retry", succeeded]);
    expect(conflict.code).toBe(4);
    expect(conflict.stderr).toMatch(/Conflict: .*succeeded/);

    const run = await cli(["tenants", "retry", failed]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`Retry started: tenant ${failed} is (queued|running)`));
    const tenant = await rt.waitFor(failed, ["succeeded", "failed"]);
    expect(tenant.status).toBe("succeeded");
    expect(tenant.steps.find((s: { name: string }) => s.name === "journal-rules").attempts).toBe(2);
  });

  it("offboard: refuses without --yes off a terminal (exit 2), then offboards; twice is a conflict", async () => {
    const unconfirmed = await cli(["tenants", "offboard", succeeded]);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toContain("--yes");
    expect((await rt.call("GET", `/v1/tenants/${succeeded}`)).body.status).toBe("succeeded");

    const run = await cli(["tenants", "offboard", succeeded, "--yes", "--json"]);
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ tenantId: succeeded, status: "offboarding" });
    await rt.waitFor(succeeded, ["offboarded"]);
    const again = await cli(["tenants", "offboard", succeeded, "--yes"]);
    expect(again.code).toBe(4);
  });
});

// Independent of each other (own tenants, three consents together: within the consent
// callback's burst on the AWS form): run at once.
describe.concurrent("tenants drift, plan, approve, changes", () => {
  /** A tenant registered with approval required, consented, stopped at its plan. */
  async function awaitingApproval(tenantId: string): Promise<void> {
    await rt.onboard(partner.apiKey, { tenantId, customerName: "plan-cli", approval: "required" });
    await rt.waitFor(tenantId, ["awaiting_approval"]);
  }

  it("checks drift, shows and approves a plan, and lists the audit trail", async () => {
    // Both tenants at once: one onboarded, one stopped at its plan.
    const waiting = randomUUID();
    const [tenantId] = await Promise.all([
      rt.onboard(partner.apiKey, { customerName: "drift-cli" }),
      awaitingApproval(waiting),
    ]);
    await rt.waitFor(tenantId, ["succeeded"]);
    const inSync = await cli(["tenants", "drift", tenantId, "--check"]);
    expect(inSync.code, inSync.stderr).toBe(0);
    expect(inSync.stdout).toMatch(/in sync/);
    await rt.sim.tamper(tenantId, {
      action: "disable-journal-rule",
      name: "Journal Messages to CloudflareArea 1",
    });
    const drift = await cli(["tenants", "drift", tenantId, "--check"]);
    // Drift is exit code 7, with or without --json, so that a monitor needs no parsing.
    expect(drift.code).toBe(7);
    expect((await cli(["--json", "tenants", "drift", tenantId])).code).toBe(7);
    expect(drift.stdout).toMatch(/DRIFT/);
    expect(drift.stdout).toMatch(/journal-rules\s+journal rule .*\s+enabled\s+true\s+false/);

    const changes = await cli(["tenants", "changes", tenantId]);
    expect(changes.code).toBe(0);
    expect(changes.stdout.split("\n")[0]).toMatch(/^TIME\s+RUN\s+STEP\s+CMDLET\s+OUTCOME\s+BY$/);
    expect(changes.stdout).toMatch(/journal-rules\s+New-JournalRule\s+ok\s+partner/);

    const plan = await cli(["tenants", "plan", waiting]);
    expect(plan.stdout).toMatch(/journal-settings\s+Set-TransportConfig/);
    expect(plan.stdout).toContain(`npx onboarding tenants approve ${waiting}`);
    // Readable on a terminal: no raw JSON, no line much wider than a terminal.
    expect(plan.stdout).not.toContain('{"');
    expect(Math.max(...plan.stdout.split("\n").map((l) => l.length))).toBeLessThan(160);
    expect(plan.stdout).toMatch(/^\s+-JournalingReportNdrTo \S+@/m);
    const planJson = JSON.parse((await cli(["--json", "tenants", "plan", waiting])).stdout);
    expect(planJson[0]).toHaveProperty("parameters");
    const approve = await cli(["tenants", "approve", waiting]);
    expect(approve.code).toBe(0);
    expect((await rt.waitFor(waiting, ["succeeded", "failed"])).status).toBe("succeeded");
    expect((await cli(["tenants", "approve", waiting])).code).toBe(4);
  });
});

describe.concurrent("webhooks", () => {
  it("deliveries and replay through the API", async () => {
    // Both forms always have webhooks: a 501 here is a defect, not a case to skip.
    const probe = await rt.call("GET", "/v1/webhook/deliveries");
    expect(probe.status).toBe(200);
    const receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(204).end());
    });
    await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
    try {
      const own = await rt.createPartner("Webhook Partner");
      const { port } = receiver.address() as AddressInfo;
      const put = await rt.call("PUT", "/v1/webhook", {
        key: own.apiKey,
        body: { url: `http://127.0.0.1:${port}/hooks` },
      });
      expect(put.status).toBe(200);
      const tenantId = await rt.onboard(own.apiKey);
      await rt.waitFor(tenantId, ["succeeded"]);
      let deliveries: { items: { deliveryId: string; tenantId: string; type: string; status: string }[] };
      const deadline = Date.now() + 20_000 * slower;
      do {
        deliveries = json(await cli(["webhooks", "deliveries", "--tenant", tenantId, "--all", "--json"]));
        if (deliveries.items.some((d) => d.type === "tenant.onboarding.succeeded" && d.status !== "pending"))
          break;
        await new Promise((r) => setTimeout(r, 100));
      } while (Date.now() < deadline);
      const done = deliveries.items.find((d) => d.type === "tenant.onboarding.succeeded");
      expect(done).toMatchObject({ tenantId, status: "succeeded" });

      const table = await cli(["webhooks", "deliveries", "--tenant", tenantId]);
      expect(table.code).toBe(0);
      expect(table.stdout.split("\n")[0]).toMatch(/^DELIVERY ID\s+TENANT ID\s+TYPE\s+STATUS\s+ATTEMPTS/);
      expect(table.stdout).toContain(done!.deliveryId);

      const replay = await cli(["webhooks", "replay", done!.deliveryId]);
      expect(replay.code).toBe(0);
      expect(replay.stdout).toContain(`Replay queued: tenant.onboarding.succeeded for tenant ${tenantId}`);
      const missing = await cli(["webhooks", "replay", "no-such-delivery"]);
      expect(missing.code).toBe(3);
    } finally {
      await new Promise((r) => receiver.close(r));
    }
  });
});

describe("tenants retry --all-failed", () => {
  it("retries every failed tenant with a progress bar, then sums up; the tenants succeed", async () => {
    const own = await rt.createPartner("Retry Partner");
    const ids = await Promise.all(
      [1, 2, 3].map((i) => rt.onboard(own.apiKey, { customerName: `retry-${i}`, failJournalRule: true })),
    );
    const healthy = await rt.onboard(own.apiKey, { customerName: "healthy" });
    await Promise.all([...ids.map((id) => rt.waitFor(id, ["failed"])), rt.waitFor(healthy, ["succeeded"])]);

    // The simulator fails each rule once only: now it answers normally.
    const run = await cli(["tenants", "retry", "--all-failed", "--partner", own.partnerId]);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe("retried 3, skipped 0, errors 0");
    expect(run.stderr).toContain("] 3/3");
    const final = await Promise.all(ids.map((id) => rt.waitFor(id, ["succeeded", "failed"])));
    expect(final.map((t) => t.status)).toEqual(["succeeded", "succeeded", "succeeded"]);

    const nothing = await cli(["tenants", "retry", "--all-failed", "--partner", own.partnerId, "--json"]);
    expect(nothing.code).toBe(0);
    expect(json(nothing)).toEqual({ retried: [], skipped: [], errors: [] });
  });

  // The same requests as the case above, only printed as JSON: the local run covers both forms.
  it.skipIf(form === "aws")("--json lists the retried tenants", async () => {
    const own = await rt.createPartner("Retry Partner 2");
    const id = await rt.onboard(own.apiKey, { failJournalRule: true });
    await rt.waitFor(id, ["failed"]);
    const run = await cli(["tenants", "retry", "--all-failed", "--partner", own.partnerId, "--json"]);
    expect(run.code).toBe(0);
    expect(json(run)).toEqual({ retried: [id], skipped: [], errors: [] });
    await rt.waitFor(id, ["succeeded"]);
  });
});

describe("secrets", () => {
  it("never prints the API key it was given", () => {
    expect(transcript.length).toBeGreaterThan(40);
    for (const text of transcript) expect(text).not.toContain(rt.opsKey);
  });
});
