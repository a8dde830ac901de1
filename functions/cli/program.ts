/**
 * The `onboarding` command line: ops work on tenants, webhook deliveries and partners through
 * the REST API. Configuration comes from the environment only (ONBOARDING_API_URL,
 * ONBOARDING_API_KEY): a key on the command line would end up in shell history and `ps`.
 * Every command prints a table or a summary for people, or with `--json` the API's JSON for
 * scripts. Exit codes: see `ExitCode` (errors.ts) and docs/operating.md.
 */
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { Command, CommanderError, Option } from "commander";
import type { RegionMode } from "../domain/provider.ts";
import { TENANT_STATUSES, type TenantStatus } from "../domain/tenant.ts";
import { intIn, parseDeliveryId, parseGuid, parseLimit } from "./args.ts";
import { OnboardingClient, type Page, type TenantResource } from "./client.ts";
import { registerDriftCommands } from "./commands/tenants-drift.ts";
import { registerImportExport } from "./commands/tenants-import.ts";
import type { CliIo, CommandContext } from "./context.ts";
import { renderDoctorMarkdown, runDoctor } from "./doctor.ts";
import { doctorRedirectUri, loopbackSignIn } from "./doctor-admin-setup.ts";
import { ApiProblemError, CliError, ExitCode, MissingApiKeyError, UsageError } from "./errors.ts";
import { clean, duration, errorText, fields, ProgressBar, table, time } from "./format.ts";

export const DEFAULT_API_URL = "http://127.0.0.1:3000";

export type { CliIo };

interface GlobalOptions {
  json?: boolean;
}

const RETRYABLE: readonly TenantStatus[] = ["failed", "awaiting_consent", "awaiting_permissions"];

/** Runs the CLI; resolves to the process exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const state = { exitCode: ExitCode.Ok as number };
  const program = buildProgram(io, state);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return state.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    const json = argv.includes("--json");
    if (err instanceof CliError) {
      reportError(io, err, json);
      return err.exitCode;
    }
    reportError(io, err as Error, json);
    return ExitCode.ApiError;
  }
}

function reportError(io: CliIo, err: Error, json: boolean): void {
  if (json) {
    const body =
      err instanceof ApiProblemError
        ? { ...err.problem, status: err.status, exitCode: err.exitCode }
        : { title: err.name, detail: err.message, exitCode: err instanceof CliError ? err.exitCode : 1 };
    io.stderr.write(`${JSON.stringify(body)}\n`);
    return;
  }
  io.stderr.write(`onboarding: ${err.message.split("\n").map(clean).join("\n")}\n`);
}

/** The whole command tree (also read by a test that checks docs/operating.md against it). */
export function buildProgram(io: CliIo, state: { exitCode: number }): Command {
  const out = (text: string): void => {
    io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  };
  const printJson = (value: unknown): void => out(JSON.stringify(value, null, 2));

  const client = () => {
    const apiKey = io.env["ONBOARDING_API_KEY"];
    if (!apiKey) throw new MissingApiKeyError();
    const baseUrl = io.env["ONBOARDING_API_URL"] || DEFAULT_API_URL;
    let parsed: URL;
    try {
      parsed = new URL(baseUrl);
    } catch {
      throw new UsageError(`ONBOARDING_API_URL is not a URL: ${baseUrl}`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
      throw new UsageError(`ONBOARDING_API_URL must be http(s): ${baseUrl}`);
    }
    if (parsed.username || parsed.password) {
      throw new UsageError("ONBOARDING_API_URL must not carry credentials; use ONBOARDING_API_KEY.");
    }
    return new OnboardingClient({ baseUrl: parsed.href, apiKey });
  };

  const program = new Command("onboarding")
    .description("Ops CLI of the journal onboarding service: tenants, webhook deliveries, partners.")
    .option("--json", "print JSON for scripts (errors as a JSON problem on stderr)")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .addHelpText(
      "after",
      `
Environment:
  ONBOARDING_API_URL   base URL of the API (default ${DEFAULT_API_URL}; in AWS the stage URL)
  ONBOARDING_API_KEY   the ops key (or a partner key); never passed as a flag

Exit codes:
  0 ok   1 API error   2 usage error   3 not found   4 conflict
  5 cannot reach the API   6 no key or key refused (401/403)
  7 tenants drift: the tenant has drifted`,
    );
  // Subcommands created after this point inherit exitOverride and the output streams.

  const json = (cmd: Command) => Boolean(cmd.optsWithGlobals<GlobalOptions>().json);
  const ctx: CommandContext = { io, state, out, printJson, client, json };
  const limitOption = (what: string) =>
    new Option("--limit <n>", `${what} per page, 1-100`).argParser(parseLimit);

  // ---- tenants -----------------------------------------------------------------------------
  const tenants = program
    .command("tenants")
    .description("List, inspect, retry and offboard tenants; import and export them in bulk");

  tenants
    .command("list")
    .description("List tenants, newest first")
    .addOption(new Option("--status <status>", "only tenants in this status").choices(TENANT_STATUSES))
    .option("--partner <partnerId>", "only this partner's tenants (ops)")
    .addOption(limitOption("tenants").default(20, "20"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page (--limit is then the page size)")
    .action(async (opts: ListOptions & { status?: TenantStatus; partner?: string }, cmd: Command) => {
      const api = client();
      const filter = {
        ...(opts.status && { status: opts.status }),
        ...(opts.partner && { partnerId: opts.partner }),
      };
      const page = await pageOrAll(opts, (q) => api.listTenants({ ...filter, ...q }));
      if (json(cmd)) return printJson(page);
      if (page.items.length === 0)
        out(opts.status ? `No tenants with status ${opts.status}.` : "No tenants.");
      else
        out(
          table(page.items, [
            { header: "TENANT ID", value: (t) => t.tenantId },
            { header: "CUSTOMER", value: (t) => t.customerName },
            { header: "REGION", value: (t) => t.region },
            { header: "STATUS", value: (t) => t.status },
            { header: "PARTNER", value: (t) => t.partnerId },
            { header: "UPDATED", value: (t) => time(t.updatedAt) },
            { header: "ERROR", value: (t) => t.error?.code },
          ]),
        );
      moreHint(out, page, "tenants list");
    });

  tenants
    .command("show")
    .description("One tenant: its steps with status, attempts, timings and errors")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .action(async (tenantId: string, _opts: unknown, cmd: Command) => {
      const tenant = await client().getTenant(tenantId);
      if (json(cmd)) return printJson(tenant);
      out(renderTenant(tenant));
    });

  tenants
    .command("retry")
    .description("Retry a failed (or awaiting_consent/awaiting_permissions) tenant, or every failed tenant")
    .argument("[tenantId]", "the Entra tenant id (GUID)", parseGuid)
    .option("--all-failed", "retry every tenant whose status is failed")
    .option("--partner <partnerId>", "with --all-failed: only this partner's tenants (ops)")
    .addOption(
      new Option("--concurrency <n>", "with --all-failed: retries in flight, 1-16")
        .argParser(intIn(1, 16))
        .default(4),
    )
    .action(
      async (
        tenantId: string | undefined,
        opts: { allFailed?: boolean; partner?: string; concurrency: number },
        cmd: Command,
      ) => {
        if (Boolean(tenantId) === Boolean(opts.allFailed)) {
          throw new UsageError("Give either a tenant id or --all-failed.");
        }
        const api = client();
        if (tenantId) {
          const tenant = await api.retryTenant(tenantId);
          if (json(cmd)) return printJson(tenant);
          return out(`Retry started: tenant ${tenant.tenantId} is ${tenant.status}.`);
        }
        const failed: TenantResource[] = [];
        for await (const t of api.allTenants({
          status: "failed",
          ...(opts.partner && { partnerId: opts.partner }),
        })) {
          failed.push(t);
        }
        const summary = await retryAll(api, failed, opts.concurrency, io);
        if (summary.errors.length > 0) state.exitCode = ExitCode.ApiError;
        if (json(cmd)) return printJson(summary);
        for (const s of summary.skipped) out(`skipped  ${s.tenantId}  ${clean(s.reason)}`);
        for (const e of summary.errors) out(`error    ${e.tenantId}  ${clean(e.message)}`);
        out(
          `retried ${summary.retried.length}, skipped ${summary.skipped.length}, errors ${summary.errors.length}`,
        );
      },
    );

  tenants
    .command("offboard")
    .description("Remove what the service configured in the tenant and restore its NDR address")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (tenantId: string, opts: { yes?: boolean }, cmd: Command) => {
      const api = client();
      if (!opts.yes) await confirm(io, tenantId);
      const tenant = await api.offboardTenant(tenantId);
      if (json(cmd)) return printJson(tenant);
      out(`Offboarding started: tenant ${tenant.tenantId} is ${tenant.status}.`);
    });

  tenants
    .command("events")
    .description("The tenant's event history, oldest first (the events webhooks deliver)")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .addOption(limitOption("events").default(100, "100"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (tenantId: string, opts: ListOptions, cmd: Command) => {
      const api = client();
      const page = await pageOrAll(opts, (q) => api.listEvents(tenantId, q));
      if (json(cmd)) return printJson(page);
      if (page.items.length === 0) out("No events.");
      else
        out(
          table(page.items, [
            { header: "TIME", value: (e) => time(e.timestamp) },
            { header: "SEQ", value: (e) => e.data.sequence },
            { header: "TYPE", value: (e) => e.type },
            { header: "STEP", value: (e) => e.data.step },
            { header: "STATUS", value: (e) => e.data.status },
            { header: "ERROR", value: (e) => errorText(e.data.error) },
          ]),
        );
      moreHint(out, page, `tenants events ${tenantId}`);
    });

  registerDriftCommands(tenants, ctx);

  tenants
    .command("changes")
    .description("The tenant's audit trail: every write made in its Microsoft 365, newest first")
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .addOption(limitOption("changes").default(20, "20"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (tenantId: string, opts: ListOptions, cmd: Command) => {
      const api = client();
      const page = await pageOrAll(opts, (q) => api.listChanges(tenantId, q));
      if (json(cmd)) return printJson(page);
      if (page.items.length === 0) out("No changes.");
      else
        out(
          table(page.items, [
            { header: "TIME", value: (c) => time(c.at) },
            { header: "RUN", value: (c) => c.run },
            { header: "STEP", value: (c) => c.step },
            { header: "CMDLET", value: (c) => c.cmdlet },
            { header: "OUTCOME", value: (c) => (c.errorCode ? `error ${c.errorCode}` : c.outcome) },
            { header: "BY", value: (c) => c.requestedBy },
          ]),
        );
      moreHint(out, page, `tenants changes ${tenantId}`);
    });

  registerImportExport(tenants, ctx);

  // ---- least privilege and real-tenant checks ----------------------------------------------
  program
    .command("permissions-script")
    .description(
      "The PowerShell a customer's admin runs once to give the app least privilege (instead of Exchange Administrator)",
    )
    .argument("<tenantId>", "the Entra tenant id (GUID)", parseGuid)
    .option("--out <file>", "write it to this file (e.g. grant.ps1) instead of stdout")
    .action(async (tenantId: string, opts: { out?: string }) => {
      const script = await client().permissionsScript(tenantId);
      if (!opts.out) return out(script);
      await writeFile(opts.out, script, { mode: 0o644 });
      io.stderr.write(`Wrote ${clean(opts.out)}: have the customer's admin run it in PowerShell 7.\n`);
    });

  program
    .command("doctor")
    .description(
      "Checks the app against one real tenant with the service's M365_* credentials: token, Graph, permissions, reads, and the assumed rows of docs/m365-fidelity.md; writes a Markdown and a JSON report",
    )
    .requiredOption("--tenant <tenantId>", "the customer's Entra tenant id (GUID)", parseGuid)
    .option("--write-test", "also create, validate and remove uniquely named objects (a test tenant only)")
    .addOption(
      new Option("--region <region>", "the onboarding mode whose permissions to check")
        .choices(["us", "eu", "split"])
        .default("split"),
    )
    .option("--no-gateway", "check without the outbound connector's cmdlets")
    .option(
      "--admin-sign-in",
      "also probe the least-privilege setup at consent: an Exchange admin signs in once",
    )
    .option("--out <path>", "report path, without extension: <path>.md and <path>.json", "doctor-report")
    .action(
      async (opts: {
        tenant: string;
        writeTest?: boolean;
        region: RegionMode;
        gateway: boolean;
        out: string;
        adminSignIn?: boolean;
      }) => {
        const report = await runDoctor({
          env: io.env,
          tenantId: opts.tenant,
          writeTest: opts.writeTest === true,
          mode: { region: opts.region, outboundGateway: opts.gateway },
          log: (line) => io.stderr.write(`${clean(line)}\n`),
          ...(opts.adminSignIn && {
            adminSignIn: loopbackSignIn(doctorRedirectUri(io.env), (line) => io.stderr.write(`${line}\n`)),
          }),
        });
        const base = opts.out.replace(/\.(md|json)$/i, "");
        await writeFile(`${base}.md`, renderDoctorMarkdown(report));
        await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`);
        const counts = (["confirmed", "refuted", "unknown"] as const)
          .map((v) => `${report.rows.filter((r) => r.verdict === v).length} ${v}`)
          .join(", ");
        out(
          `${report.ok ? "ok" : "problems found"}: ${report.checks.filter((c) => c.status === "fail").length} failed checks; assumed rows: ${counts}. Report: ${clean(base)}.md, ${clean(base)}.json`,
        );
        if (!report.ok) state.exitCode = ExitCode.ApiError;
      },
    );

  // ---- webhooks ----------------------------------------------------------------------------
  const webhooks = program.command("webhooks").description("Webhook deliveries and their replay");

  webhooks
    .command("deliveries")
    .description("Delivery attempts, newest first")
    .addOption(limitOption("deliveries").default(20, "20"))
    .option("--tenant <tenantId>", "only this tenant's deliveries", parseGuid)
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (opts: ListOptions & { tenant?: string }, cmd: Command) => {
      const api = client();
      const filter = opts.tenant ? { tenantId: opts.tenant } : {};
      const page = await pageOrAll(opts, (q) => api.listDeliveries({ ...filter, ...q }));
      if (json(cmd)) return printJson(page);
      if (page.items.length === 0) out("No deliveries.");
      else
        out(
          table(page.items, [
            { header: "DELIVERY ID", value: (d) => d.deliveryId },
            { header: "TENANT ID", value: (d) => d.tenantId },
            { header: "TYPE", value: (d) => d.type },
            { header: "STATUS", value: (d) => d.status },
            { header: "ATTEMPTS", value: (d) => d.attempts },
            { header: "HTTP", value: (d) => d.lastResponseStatus },
            { header: "CREATED", value: (d) => time(d.createdAt) },
            { header: "ERROR", value: (d) => errorText(d.error) },
          ]),
        );
      moreHint(out, page, "webhooks deliveries");
    });

  webhooks
    .command("replay")
    .description("Send a delivery's event again")
    .argument("<deliveryId>", "from `webhooks deliveries`", parseDeliveryId)
    .action(async (deliveryId: string, _opts: unknown, cmd: Command) => {
      const delivery = await client().replayDelivery(deliveryId);
      if (json(cmd)) return printJson(delivery);
      out(
        `Replay queued: ${delivery.type} for tenant ${delivery.tenantId} (delivery ${delivery.deliveryId}).`,
      );
    });

  // ---- partners ----------------------------------------------------------------------------
  const partners = program.command("partners").description("Partners and their API keys (ops)");

  partners
    .command("create")
    .description("Create a partner; prints its API key, which cannot be shown again")
    .argument("<name>", "the partner's display name")
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const partner = await client().createPartner(name);
      if (json(cmd)) return printJson(partner);
      out(
        [
          `Partner ${partner.partnerId} (${clean(partner.name)}) created.`,
          `API key: ${partner.apiKey}`,
          "Store the key now: it is shown once and cannot be read back.",
        ].join("\n"),
      );
    });

  partners
    .command("list")
    .description("List partners")
    .addOption(limitOption("partners").default(20, "20"))
    .option("--cursor <cursor>", "continue from a previous page's cursor")
    .option("--all", "follow every page")
    .action(async (opts: ListOptions, cmd: Command) => {
      const api = client();
      const page = await pageOrAll(opts, (q) => api.listPartners(q));
      if (json(cmd)) return printJson(page);
      if (page.items.length === 0) out("No partners.");
      else
        out(
          table(page.items, [
            { header: "PARTNER ID", value: (p) => p.partnerId },
            { header: "NAME", value: (p) => p.name },
            { header: "CREATED", value: (p) => time(p.createdAt) },
          ]),
        );
      moreHint(out, page, "partners list");
    });

  return program;
}

interface ListOptions {
  limit: number;
  cursor?: string;
  all?: boolean;
}

/** One page (from `--cursor`), or with `--all` every page merged (no `nextCursor`). */
async function pageOrAll<T>(
  opts: ListOptions,
  fetchPage: (q: { limit: number; cursor?: string }) => Promise<Page<T>>,
): Promise<Page<T>> {
  if (!opts.all) return fetchPage({ limit: opts.limit, ...(opts.cursor && { cursor: opts.cursor }) });
  const items: T[] = [];
  let cursor = opts.cursor;
  do {
    const page = await fetchPage({ limit: opts.limit, ...(cursor && { cursor }) });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return { items };
}

function moreHint(out: (s: string) => void, page: Page<unknown>, command: string): void {
  if (page.nextCursor) out(`\nMore: npx onboarding ${command} --cursor ${page.nextCursor}   (or --all)`);
}

export interface RetrySummary {
  retried: string[];
  skipped: { tenantId: string; reason: string }[];
  errors: { tenantId: string; status?: number; message: string }[];
}

/** Retries each tenant with bounded concurrency; a 409 (no longer failed) is a skip, not an error. */
async function retryAll(
  api: OnboardingClient,
  tenants: readonly TenantResource[],
  concurrency: number,
  io: CliIo,
): Promise<RetrySummary> {
  const summary: RetrySummary = { retried: [], skipped: [], errors: [] };
  if (tenants.length === 0) return summary;
  const bar = new ProgressBar(io.stderr, tenants.length, io.stderrIsTty);
  let next = 0;
  const worker = async () => {
    while (next < tenants.length) {
      const { tenantId } = tenants[next++]!;
      try {
        await api.retryTenant(tenantId);
        summary.retried.push(tenantId);
      } catch (err) {
        if (err instanceof ApiProblemError && (err.status === 409 || err.status === 404)) {
          summary.skipped.push({ tenantId, reason: err.message });
        } else if (err instanceof CliError && err.exitCode === ExitCode.Auth) {
          throw err; // every further call would be refused the same way
        } else {
          summary.errors.push({
            tenantId,
            ...(err instanceof ApiProblemError && { status: err.status }),
            message: (err as Error).message,
          });
        }
      }
      bar.tick(tenantId);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, tenants.length) }, worker));
  } finally {
    bar.finish();
  }
  return summary;
}

function renderTenant(t: TenantResource): string {
  const head = fields([
    ["Tenant", t.tenantId],
    ["Customer", t.customerName],
    ["Partner", t.partnerId],
    ["Region", `${t.region}${t.outboundGateway ? " (outbound gateway)" : ""}`],
    [
      "NDR address",
      t.ndrAddressKept
        ? `${t.ndrAddress} (kept after offboarding: Exchange refused to clear it)`
        : t.ndrAddress,
    ],
    ["Status", t.status],
    ["Error", errorText(t.error)],
    ["Consent URL", t.consentUrl],
    ["Missing permissions", t.missingPermissions?.map((m) => `${m.cmdlet} (${m.role})`).join(", ")],
    ["Created", time(t.createdAt)],
    ["Updated", time(t.updatedAt)],
  ]);
  const steps = table(t.steps, [
    { header: "STEP", value: (s) => s.name },
    { header: "STATUS", value: (s) => s.status },
    { header: "ATTEMPTS", value: (s) => s.attempts },
    { header: "STARTED", value: (s) => time(s.startedAt) },
    { header: "DURATION", value: (s) => duration(s.startedAt, s.finishedAt) },
    // A running step that adds members in batches shows where it stands instead.
    { header: "ERROR", value: (s) => (s.error || !s.progress ? errorText(s.error) : s.progress) },
  ]);
  const code = t.error?.code;
  const fix = code ? `\nWhat ${code} means and how to fix it: GET /v1/errors (docs/errors.md#${code}).` : "";
  const script =
    t.status === "awaiting_permissions"
      ? `\nSend the customer's admin the script to run once in PowerShell 7: npx onboarding permissions-script ${t.tenantId} --out grant.ps1`
      : "";
  const hint = RETRYABLE.includes(t.status)
    ? `\n${fix}${script}\nRetry with: npx onboarding tenants retry ${t.tenantId}`
    : "";
  return `${head}\n\n${steps}${hint}`;
}

async function confirm(io: CliIo, tenantId: string): Promise<void> {
  if (!io.stdinIsTty || !io.stdin) {
    throw new UsageError("Offboarding asks for confirmation; pass --yes when not at a terminal.");
  }
  const rl = createInterface({ input: io.stdin, output: io.stderr as NodeJS.WritableStream });
  try {
    const answer = await rl.question(
      `Offboard ${tenantId}? This removes the journal rules, groups and connectors the service created. Type "yes": `,
    );
    if (answer.trim().toLowerCase() !== "yes") throw new UsageError("Not confirmed; nothing was changed.");
  } finally {
    rl.close();
  }
}
