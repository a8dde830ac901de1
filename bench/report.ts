/** Markdown of the benchmark results: the tables run.ts prints and docs/benchmarks.md. */
import type { Cell, Result } from "./harness.ts";
import type { ResultsFile } from "./run.ts";

const cellText = (cell: Cell | undefined) => String(cell ?? "").replaceAll("|", "\\|");

export function table(columns: string[], rows: Record<string, Cell>[]): string {
  const lines = [
    `| ${columns.map(cellText).join(" | ")} |`,
    `| ${columns.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${columns.map((c) => cellText(row[c])).join(" | ")} |`),
  ];
  return lines.join("\n");
}

function machineTable(file: ResultsFile): string {
  const m = file.machine;
  return table(
    ["machine", "value"],
    [
      { machine: "nproc", value: m.nproc },
      { machine: "CPU", value: m.cpuModel },
      { machine: "memory", value: `${m.memoryGiB} GiB` },
      { machine: "Node", value: m.node },
      { machine: "platform", value: m.platform },
      { machine: "load average at start (1/5/15 min)", value: m.loadAverage.join(" / ") },
      { machine: "load average at end", value: m.loadAverageAtEnd?.join(" / ") ?? "" },
      { machine: "commit", value: file.commit },
      { machine: "run", value: `${file.startedAt}, ${file.totalSeconds} s` },
    ],
  );
}

function targetsTable(results: Result[]): string {
  const rows = results.flatMap((r) =>
    r.targets.map((t) => ({
      benchmark: r.name,
      target: `${t.name}: ${t.target}`,
      measured: t.measured,
      met: t.met ? "met" : "**missed**",
    })),
  );
  return table(["benchmark", "target", "measured", "met"], rows);
}

function section(result: Result): string {
  const parts = [`### ${result.title}`, "", table(result.columns, result.rows)];
  if (result.notes.length > 0) parts.push("", ...result.notes.map((n) => `- ${n}`));
  if (result.seconds !== undefined) parts.push("", `_(${result.name}: ${result.seconds} s)_`);
  return parts.join("\n");
}

/** The tables: machine, targets, then one per benchmark. */
export function renderMarkdown(file: ResultsFile): string {
  return [
    "## Machine",
    "",
    machineTable(file),
    "",
    "## Targets",
    "",
    targetsTable(file.results),
    "",
    "## Figures",
    "",
    file.results.map(section).join("\n\n"),
    "",
  ].join("\n");
}

/** docs/benchmarks.md: how to run, then the tables of the committed run. */
export function renderPage(file: ResultsFile): string {
  return [
    "# Benchmarks",
    "",
    "`npm run bench` runs every benchmark below, each in its own Node process, against the real",
    "parts on this machine: the local runtime (API over HTTP, dynalite on disk, the local engine",
    "running the definition AWS runs) and the HTTPS Microsoft 365 simulator with a fixed latency",
    "per call. It writes `bench/results.json` and this page, and prints the tables. Name",
    "benchmarks to run only those (`node bench/run.ts scale cost`); their entries replace the",
    "earlier ones. The code of each is in `bench/<name>.ts`, with how its figures are derived.",
    "`dynamodb-scale` and `aws-form` run only when named; `node bench/run.ts aws-form --tenants 1000`",
    "imports a fleet of 1,000 tenants on the deployed form (`npm run start:aws`, the template's own",
    "limits) and records the load average of the machine during its run in its notes.",
    "",
    "Figures, not pass/fail: the targets say where a bound exists. The machine is shared (2",
    "cores, other work running: see the load average), so repeat a run before trusting a",
    "difference of a few percent. Generated from `bench/results.json`; do not edit by hand.",
    "",
    renderMarkdown(file),
  ].join("\n");
}
