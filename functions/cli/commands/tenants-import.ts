/**
 * `tenants import` (a partner's fleet from a CSV or JSON-lines file) and `tenants export` (the
 * fleet as CSV). The file is checked whole before anything is sent; the result file records
 * each row's outcome and the tenant's current state, with its consent link while the tenant
 * awaits consent. The layout is in docs/bulk.md.
 */
import { readFile, writeFile } from "node:fs/promises";
import { type Command, Option } from "commander";
import { TENANT_STATUSES, type TenantStatus } from "../../domain/tenant.ts";
import { intIn } from "../args.ts";
import {
  formatOf,
  type ImportRow,
  type InputFormat,
  keyIdOf,
  type RowError,
  readRows,
  sendRows,
  waitForTenants,
} from "../bulk.ts";
import {
  CountsView,
  defaultResultPath,
  exportCsv,
  sendLine,
  statusCounts,
  statusLine,
  writeResults,
} from "../bulk-output.ts";
import type { TenantResource } from "../client.ts";
import type { CommandContext } from "../context.ts";
import { ExitCode, MissingApiKeyError, UsageError } from "../errors.ts";
import { clean } from "../format.ts";

interface ImportOptions {
  format?: InputFormat;
  concurrency: number;
  out?: string;
  dryRun?: boolean;
  wait?: boolean;
  waitTimeout: number;
}

export function registerImportExport(tenants: Command, ctx: CommandContext): void {
  tenants
    .command("import")
    .description(
      "Onboard every tenant of a CSV or JSON-lines file (partner key); a second run resumes, never duplicates",
    )
    .argument(
      "<file>",
      "a .csv (columns: see docs/bulk.md) or .jsonl file (one POST /v1/tenants body per line)",
    )
    .addOption(
      new Option("--format <format>", "the file's format (default: from its extension)").choices([
        "csv",
        "jsonl",
      ]),
    )
    .addOption(new Option("--concurrency <n>", "requests in flight, 1-32").argParser(intIn(1, 32)).default(8))
    .option("--out <file>", "the result file (default: <file>.results.csv beside the input)")
    .option("--dry-run", "validate every row, send nothing")
    .option("--wait", "then follow the onboardings to their end states and update the result file")
    .addOption(
      new Option("--wait-timeout <minutes>", "with --wait: give up after this long, 1-1440")
        .argParser(intIn(1, 1440))
        .default(60),
    )
    .action(async (file: string, opts: ImportOptions, cmd: Command) => {
      ctx.state.exitCode = await importCommand(ctx, file, opts, ctx.json(cmd));
    });

  tenants
    .command("export")
    .description(
      "Every tenant (all pages) as CSV: id, customer, region, gateway, NDR, status, error, update, consent link",
    )
    .addOption(
      new Option(
        "--status <status>",
        "only tenants in this status (awaiting_consent: the links to send)",
      ).choices(TENANT_STATUSES),
    )
    .option("--partner <partnerId>", "only this partner's tenants (ops)")
    .option("--out <file>", "write to this file instead of stdout")
    .action(async (opts: { status?: TenantStatus; partner?: string; out?: string }, cmd: Command) => {
      const items: TenantResource[] = [];
      for await (const t of ctx.client().allTenants({
        ...(opts.status && { status: opts.status }),
        ...(opts.partner && { partnerId: opts.partner }),
      })) {
        items.push(t);
      }
      if (ctx.json(cmd) && !opts.out) return ctx.printJson({ items });
      const text = exportCsv(items);
      if (!opts.out) {
        ctx.io.stdout.write(text);
        return;
      }
      await writeFile(opts.out, text, "utf8");
      if (ctx.json(cmd)) return ctx.printJson({ file: opts.out, tenants: items.length });
      ctx.io.stderr.write(`${items.length} tenants written to ${clean(opts.out)}\n`);
    });
}

/** The file's valid rows, or undefined once every problem is reported (each row's once). */
async function rowsOf(
  ctx: CommandContext,
  file: string,
  opts: ImportOptions,
  asJson: boolean,
): Promise<ImportRow[] | undefined> {
  const format = formatOf(file, opts.format);
  if (!format)
    throw new UsageError(`Cannot tell the format of ${file}: name it .csv or .jsonl, or pass --format.`);
  const apiKey = ctx.io.env["ONBOARDING_API_KEY"];
  if (!apiKey) throw new MissingApiKeyError();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UsageError(
      `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const { rows, errors } = readRows(text, format, keyIdOf(apiKey));
  if (errors.length === 0) return rows;
  reportInvalidRows(ctx, file, errors, asJson);
  return undefined;
}

function reportInvalidRows(ctx: CommandContext, file: string, errors: readonly RowError[], asJson: boolean) {
  const total = new Set(errors.map((e) => e.row)).size;
  const detail = `${total} row(s) of ${file} are invalid; nothing was sent.`;
  if (asJson) {
    const problem = { title: "Invalid rows", detail, errors, exitCode: ExitCode.Usage };
    ctx.io.stderr.write(`${JSON.stringify(problem)}\n`);
    return;
  }
  for (const e of errors) {
    ctx.io.stderr.write(`row ${e.row}: ${e.field ? `${clean(e.field)}: ` : ""}${clean(e.message)}\n`);
  }
  ctx.io.stderr.write(`onboarding: ${clean(detail)}\n`);
}

async function importCommand(
  ctx: CommandContext,
  file: string,
  opts: ImportOptions,
  asJson: boolean,
): Promise<number> {
  const rows = await rowsOf(ctx, file, opts, asJson);
  if (!rows) return ExitCode.Usage;
  if (opts.dryRun) {
    if (asJson) ctx.printJson({ file, rows: rows.length, valid: true });
    else ctx.out(`${rows.length} rows are valid; nothing was sent (--dry-run).`);
    return ExitCode.Ok;
  }
  const api = ctx.client();
  const resultPath = opts.out ?? defaultResultPath(file);
  const view = new CountsView(ctx.io.stderr, ctx.io.stderrIsTty && !asJson);
  const started = Date.now();
  const sent = await sendRows(api, rows, opts.concurrency, (c) => view.update(sendLine(c), c.sent, c.total));
  if (sent.counts.sent > 0) view.update(sendLine(sent.counts), sent.counts.sent, sent.counts.total, true);
  view.finish();
  if (sent.abort) {
    // A key refused at once (an ops key, a revoked one) or an API never reached sent nothing:
    // the result file of an earlier run stays as it was.
    if (sent.counts.sent > 0) {
      await writeResults(resultPath, sent.outcomes);
      ctx.io.stderr.write(
        `onboarding: stopped; the rows not sent are "not_sent" in ${clean(resultPath)}. Run again to resume.\n`,
      );
    }
    throw sent.abort;
  }
  await writeResults(resultPath, sent.outcomes);
  const sendSeconds = (Date.now() - started) / 1000;
  let settled: boolean | undefined;
  if (opts.wait) {
    const waited = await waitForTenants(api, sent.outcomes, {
      concurrency: opts.concurrency,
      timeoutMs: opts.waitTimeout * 60_000,
      onRound: (outcomes) => {
        const counts = statusCounts(outcomes);
        const open = (counts["queued"] ?? 0) + (counts["running"] ?? 0) + (counts["offboarding"] ?? 0);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        view.update(`waiting: ${statusLine(counts)}`, total - open, total, open === 0);
      },
    });
    view.finish();
    settled = waited.settled;
    await writeResults(resultPath, sent.outcomes);
  }
  return reportImport(ctx, { file, resultPath, sent, sendSeconds, settled, wait: opts.wait, asJson });
}

function reportImport(
  ctx: CommandContext,
  r: {
    file: string;
    resultPath: string;
    sent: Awaited<ReturnType<typeof sendRows>>;
    sendSeconds: number;
    settled: boolean | undefined;
    wait: boolean | undefined;
    asJson: boolean;
  },
): number {
  const { sent, wait, settled } = r;
  const endStates = statusCounts(sent.outcomes);
  const failedTenants = (endStates["failed"] ?? 0) + (endStates["offboarding_failed"] ?? 0);
  const code =
    sent.counts.failed > 0 || (wait && (failedTenants > 0 || settled === false))
      ? ExitCode.ApiError
      : ExitCode.Ok;
  if (r.asJson) {
    ctx.printJson({
      file: r.file,
      resultFile: r.resultPath,
      ...sent.counts,
      seconds: Math.round(r.sendSeconds * 10) / 10,
      ...(wait && { settled, statuses: endStates }),
      rows: sent.outcomes,
    });
    return code;
  }
  for (const o of sent.outcomes.filter((x) => x.result === "failed")) {
    ctx.out(`row ${o.row}  ${o.tenantId}  ${clean(o.errorCode)}: ${clean(o.errorMessage)}`);
  }
  const c = sent.counts;
  ctx.out(
    `${c.total} rows in ${r.sendSeconds.toFixed(1)} s: ${c.accepted} accepted, ${c.already} already there, ${c.failed} failed.`,
  );
  if (wait) {
    ctx.out(`${settled ? "End states" : "Not all settled before --wait-timeout"}: ${statusLine(endStates)}`);
  }
  const awaiting = endStates["awaiting_consent"] ?? 0;
  if (awaiting > 0) {
    ctx.out(
      `${awaiting} tenant(s) wait for their customer's consent: send each customer's admin the consentUrl of its row.`,
    );
  }
  ctx.out(`Results: ${clean(r.resultPath)}`);
  return code;
}
