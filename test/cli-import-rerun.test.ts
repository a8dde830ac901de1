/**
 * What a partner meets on the second day of a bulk import: the consent links to send (in the
 * result file and the export), a second `tenants import --wait` that reports today's state of
 * each tenant, and an import with the wrong key that stops at once and leaves the previous
 * result file alone. A running service on either form (test/support/form.ts); the CLI as a child
 * process, as partners run it.
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../functions/cli/csv.ts";
import { demoOnboardingRequest } from "../infra/local/m365-simulator/index.ts";
import { runCliProcess } from "./support/cli-process.ts";
import { type FormHandle, startForm } from "./support/form.ts";

const HEADER = "tenantId,customerName,region,outboundGateway,ndrAddress";

let rt: FormHandle;
let dir: string;
let partner: { partnerId: string; apiKey: string };

const cli = (args: string[], key?: string) =>
  runCliProcess(args, { ONBOARDING_API_URL: rt.url, ONBOARDING_API_KEY: key ?? partner.apiKey });

async function records(path: string): Promise<Record<string, string>[]> {
  const [header, ...rows] = parseCsv(await readFile(path, "utf8"));
  return rows.map((r) => Object.fromEntries(header!.fields.map((n, i) => [n, r.fields[i] ?? ""])));
}

function row(tenantId: string, i: number): string {
  const b = demoOnboardingRequest(tenantId, {
    customerName: `rerun-${i}-${tenantId.slice(0, 6)}`,
    region: "us",
  });
  return [b.tenantId, b.customerName, b.region, "false", b.ndrAddress].join(",");
}

beforeAll(async () => {
  rt = await startForm();
  partner = await rt.createPartner("Second Day MSP");
  dir = await mkdtemp(join(tmpdir(), "import-rerun-"));
});

afterAll(async () => {
  await rt?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("tenants import, run again after the customers consented", () => {
  const ids = [randomUUID(), randomUUID(), randomUUID()];
  const file = () => join(dir, "fleet.csv");
  const results = () => join(dir, "fleet.results.csv");

  it("the result file and the export carry each tenant's consent link; the count line is written once", async () => {
    await writeFile(file(), `${HEADER}\n${ids.map(row).join("\n")}\n`);
    const run = await cli(["tenants", "import", file(), "--wait"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.match(/sent 3\/3/g)).toHaveLength(1);
    expect(run.stdout).toContain("End states: awaiting_consent 3");
    expect(run.stdout).toContain("3 tenant(s) wait for their customer's consent");
    const written = await records(results());
    expect(Object.keys(written[0]!)).toContain("consentUrl");
    for (const r of written) {
      expect(r["tenantStatus"]).toBe("awaiting_consent");
      expect(r["consentUrl"]).toMatch(/^https:\/\//);
    }

    const exported = await cli(["tenants", "export", "--status", "awaiting_consent"]);
    expect(exported.code, exported.stderr).toBe(0);
    const [header, ...lines] = parseCsv(exported.stdout);
    const at = header!.fields.indexOf("consentUrl");
    expect(at).toBeGreaterThan(-1);
    expect(lines).toHaveLength(3);
    for (const l of lines) expect(l.fields[at]).toMatch(/^https:\/\//);
  });

  it("a second import --wait reports and writes each tenant's current state, not the first answer", async () => {
    for (const tenantId of ids) {
      const { body } = await rt.call("GET", `/v1/tenants/${tenantId}`, { key: partner.apiKey });
      expect((await rt.consent(body.consentUrl)).status).toBe(200);
    }
    for (const tenantId of ids) await rt.waitFor(tenantId, ["succeeded"], 30_000);

    const run = await cli(["tenants", "import", file(), "--wait"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("0 accepted, 3 already there, 0 failed");
    expect(run.stdout).toContain("End states: succeeded 3");
    expect(run.stdout).not.toContain("wait for their customer's consent");
    for (const r of await records(results())) {
      expect(r).toMatchObject({
        result: "already",
        tenantStatus: "succeeded",
        errorCode: "",
        consentUrl: "",
      });
    }

    const plain = await cli(["tenants", "import", file()]);
    expect(plain.code, plain.stderr).toBe(0);
    for (const r of await records(results())) expect(r["tenantStatus"]).toBe("succeeded");
  });

  it("with the ops key: Forbidden at once, no resume hint, and the previous result file stays", async () => {
    const before = await readFile(results(), "utf8");
    const run = await cli(["tenants", "import", file()], rt.opsKey);
    expect(run.code).toBe(6);
    expect(run.stderr).toMatch(/^onboarding: Forbidden/);
    expect(run.stderr).not.toContain("Run again");
    expect(await readFile(results(), "utf8")).toBe(before);
  });
});
