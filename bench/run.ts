/**
 * `npm run bench`: runs every benchmark (or those named: `node bench/run.ts scale cost`),
 * each in a fresh Node process (its own heap, peak RSS and JIT state; the service's log
 * lines go to /dev/null as Lambda's would go to CloudWatch), then writes bench/results.json
 * and docs/benchmarks.md and prints the Markdown tables to stdout. `--tenants N` sets the
 * aws-form benchmark's fleet (`node bench/run.ts aws-form --tenants 1000`).
 */
import { execFileSync, fork } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { log, type MachineInfo, machineInfo, type Result } from "./harness.ts";
import { renderMarkdown, renderPage } from "./report.ts";

/** In run order. */
const BENCHMARKS = [
  "critical-path",
  "aws-model",
  "calls",
  "scale",
  "cost",
  "drift",
  "api-latency",
  "cold-start",
  "dynamodb-scale",
  "aws-form",
] as const;
/** Long, and needing Java: run only when named (`npm run bench:dynamodb`, `node bench/run.ts aws-form`). */
const OPTIONAL: readonly string[] = ["dynamodb-scale", "aws-form"];

const ROOT = join(import.meta.dirname, "..");
const RESULTS = join(ROOT, "bench", "results.json");
const PAGE = join(ROOT, "docs", "benchmarks.md");

export interface ResultsFile {
  machine: MachineInfo;
  commit: string;
  startedAt: string;
  totalSeconds: number;
  results: Result[];
}

if (process.argv[2] === "--child") {
  const name = process.argv[3]!;
  const module = (await import(`./${name}.ts`)) as { run: () => Promise<Result> };
  const started = performance.now();
  const result = await module.run();
  result.seconds = Math.round((performance.now() - started) / 100) / 10;
  process.send!(result, () => process.exit(0));
} else {
  await main();
}

async function main(): Promise<void> {
  const asked = process.argv.slice(2);
  // `--tenants N`: the size of the aws-form benchmark's fleet (passed to its process).
  const at = asked.indexOf("--tenants");
  if (at >= 0) {
    const tenants = Number(asked[at + 1]);
    if (!Number.isInteger(tenants) || tenants < 1) {
      log("--tenants takes a whole number of tenants (the aws-form benchmark's fleet)");
      process.exit(2);
    }
    process.env["BENCH_AWS_TENANTS"] = String(tenants);
    asked.splice(at, 2);
  }
  const unknown = asked.filter((a) => !(BENCHMARKS as readonly string[]).includes(a));
  if (unknown.length > 0) {
    log(`unknown benchmark(s): ${unknown.join(", ")}; known: ${BENCHMARKS.join(", ")}`);
    process.exit(2);
  }
  const names =
    asked.length > 0
      ? BENCHMARKS.filter((b) => asked.includes(b))
      : BENCHMARKS.filter((b) => !OPTIONAL.includes(b));
  const machine = machineInfo();
  const startedAt = new Date().toISOString();
  const started = performance.now();
  log(`machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}`);
  log(`load average at start: ${machine.loadAverage.join(" ")} (other work on this machine adds noise)`);

  const results: Result[] = [];
  for (const name of names) {
    log(`\n== ${name}`);
    results.push(await runChild(name));
  }

  // A partial run replaces only its own entries in the results of the last full run.
  let previous: Result[] = [];
  if (asked.length > 0 || OPTIONAL.length > 0) {
    try {
      previous = (JSON.parse(readFileSync(RESULTS, "utf8")) as ResultsFile).results;
    } catch {
      // no earlier results
    }
  }
  const merged = BENCHMARKS.map(
    (b) => results.find((r) => r.name === b) ?? previous.find((r) => r.name === b),
  ).filter((r): r is Result => r !== undefined);
  const file: ResultsFile = {
    machine: { ...machine, loadAverageAtEnd: machineInfo().loadAverage },
    commit: gitCommit(),
    startedAt,
    totalSeconds: Math.round((performance.now() - started) / 1000),
    results: merged,
  };
  writeFileSync(RESULTS, `${JSON.stringify(file, null, 2)}\n`);
  writeFileSync(PAGE, renderPage(file));
  process.stdout.write(renderMarkdown(file));
  log(`\nwrote ${RESULTS} and ${PAGE} (${file.totalSeconds} s)`);
}

/** Runs one benchmark module in a child process; a failure becomes a result that says so. */
function runChild(name: string): Promise<Result> {
  return new Promise((resolve) => {
    const child = fork(import.meta.filename, ["--child", name], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      execArgv: ["--max-old-space-size=4096"],
    });
    let result: Result | undefined;
    child.on("message", (message) => {
      result = message as Result;
    });
    child.on("exit", (code, signal) => {
      if (result) return resolve(result);
      const error = `the benchmark process ended with ${signal ?? `exit code ${code}`} before reporting`;
      log(`${name}: ${error}`);
      resolve({
        name,
        title: name,
        columns: ["error"],
        rows: [{ error }],
        targets: [],
        notes: [`Failed: ${error}; see the run's stderr.`],
      });
    });
  });
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}
