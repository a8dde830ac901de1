/**
 * Benchmark 6: the size of every Lambda bundle and how long a fresh Node process takes to
 * import it (the part of a cold start that is ours), beside an empty bundle built the same way.
 *
 * Bundles are built with esbuild as the stack builds them (infra/aws/lambda-function.ts: ESM,
 * minified, platform node, target node24, mainFields module,main, source maps without sources,
 * the AWS SDK bundled but for the credential providers Lambda never loads, and the stack's
 * createRequire banner; the banner and the left-out modules are read from that file so the
 * two cannot drift) into bench/tmp/cold-start/. Entries: the workflows' one task function, the
 * API handler and authorizer, and the webhook dispatcher and stream forwarder.
 *
 * Import time: `await import(bundle)` timed inside `node -e`, median of 5 fresh processes, with
 * the stack's NODE_OPTIONS (`--enable-source-maps`) and stand-in environment values for what
 * CloudFormation fills in (TABLE_NAME, secret ARNs, queue URL, AWS_LAMBDA_FUNCTION_NAME), no AWS
 * credentials and AWS_ENDPOINT_URL on a closed loopback port, so nothing reaches AWS.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { TASK_FUNCTION } from "../workflows/definition.ts";
import { log, median, type Result, round } from "./harness.ts";

const run_ = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, "bench", "tmp", "cold-start");
const RUNS = 5;

/** The banner of infra/aws/lambda-function.ts, read from its source. */
async function stackBanner(): Promise<string> {
  const source = await readFile(join(ROOT, "infra", "aws", "lambda-function.ts"), "utf8");
  const match = /const ESM_REQUIRE_SHIM =\s*"([^"]+)";/.exec(source);
  if (!match) throw new Error("ESM_REQUIRE_SHIM not found in infra/aws/lambda-function.ts");
  return match[1]!;
}

/** The modules the stack leaves out of every bundle (UNREACHABLE_IN_LAMBDA), read from its source. */
async function stackExternals(): Promise<string[]> {
  const source = await readFile(join(ROOT, "infra", "aws", "lambda-function.ts"), "utf8");
  const match = /const UNREACHABLE_IN_LAMBDA = \[([^\]]*)\]/.exec(source);
  if (!match) throw new Error("UNREACHABLE_IN_LAMBDA not found in infra/aws/lambda-function.ts");
  return [...match[1]!.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
}

async function entries(): Promise<{ name: string; entry: string }[]> {
  // The stack's webhook functions (infra/aws/webhook-delivery.ts).
  const webhooks = ["dispatcher", "stream-forwarder"].map((f) => ({
    name: `webhooks/${f}`,
    entry: `functions/webhooks/${f}.ts`,
  }));
  return [
    { name: `task function (${TASK_FUNCTION.name})`, entry: TASK_FUNCTION.entry },
    { name: "api/handler", entry: "functions/api/handler.ts" },
    { name: "api/authorizer", entry: "functions/api/authorizer.ts" },
    ...webhooks,
  ];
}

/** Builds the bundle; returns its file and the packages (or folders) that fill it most. */
async function bundle(
  entry: string,
  outdir: string,
  banner: string,
): Promise<{ file: string; largest: [string, number][] }> {
  const outfile = join(outdir, "index.mjs");
  const { metafile } = await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    mainFields: ["module", "main"],
    banner: { js: banner },
    external: await stackExternals(),
    logLevel: "silent",
    metafile: true,
  });
  const bytes = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const pkg =
        /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split("/").slice(0, 2).join("/");
      bytes.set(pkg, (bytes.get(pkg) ?? 0) + bytesInOutput);
    }
  }
  return { file: outfile, largest: [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 4) };
}

/** The process environment without AWS or CDK settings, plus the stand-ins of the stack's values. */
function lambdaEnvironment(name: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("AWS_") && !key.startsWith("CDK_") && !key.startsWith("POWERTOOLS_"))
      env[key] = value;
  }
  return {
    ...env,
    NODE_OPTIONS: "--enable-source-maps",
    AWS_REGION: "us-east-1",
    AWS_LAMBDA_FUNCTION_NAME: name.replace(/\W+/g, "-"),
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_ENDPOINT_URL: "http://127.0.0.1:9",
    POWERTOOLS_SERVICE_NAME: "journal-onboarding",
    POWERTOOLS_METRICS_NAMESPACE: "JournalOnboarding",
    TABLE_NAME: "journal-onboarding",
    M365_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:m365",
    OPS_API_KEY_SECRET_ARN: "arn:aws:secretsmanager:us-east-1:000000000000:secret:ops",
    STATE_MACHINE_ARN: "arn:aws:states:us-east-1:000000000000:stateMachine:onboarding",
    OFFBOARDING_STATE_MACHINE_ARN: "arn:aws:states:us-east-1:000000000000:stateMachine:offboarding",
    WEBHOOK_QUEUE_URL: "http://127.0.0.1:9/000000000000/webhooks.fifo",
    M365_CLOUD: "global",
  };
}

const IMPORT_SCRIPT =
  "const t = performance.now(); const m = await import(process.argv[1]); const ms = performance.now() - t; console.log(JSON.stringify({ ms, handler: typeof m.handler }));";

/** Median import time over fresh processes; `handler` is the type of the export. */
async function importTime(file: string, name: string): Promise<{ ms: number; handler: string }> {
  const samples: number[] = [];
  let handler = "";
  for (let i = 0; i < RUNS; i++) {
    const { stdout } = await run_(process.execPath, ["--input-type=module", "-e", IMPORT_SCRIPT, file], {
      cwd: OUT,
      env: lambdaEnvironment(name),
      timeout: 30_000,
    });
    const last = stdout.trim().split("\n").at(-1)!;
    const parsed = JSON.parse(last) as { ms: number; handler: string };
    samples.push(parsed.ms);
    handler = parsed.handler;
  }
  return { ms: median(samples), handler };
}

export async function run(): Promise<Result> {
  const banner = await stackBanner();
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const emptyEntry = join(OUT, "empty.mjs");
  await writeFile(emptyEntry, "export const handler = async () => ({});\n");

  const targets = [{ name: "(empty bundle)", entry: emptyEntry }, ...(await entries())];
  const rows: Result["rows"] = [];
  let emptyMs = 0;
  for (const { name, entry } of targets) {
    const dir = join(OUT, name.replace(/\W+/g, "-"));
    const { file, largest } = await bundle(entry, dir, banner);
    const code = await readFile(file);
    const map = await stat(`${file}.map`);
    const { ms, handler } = await importTime(file, name);
    if (name === "(empty bundle)") emptyMs = ms;
    rows.push({
      function: name,
      "bundle KiB": round(code.length / 1024),
      "gzip KiB": round(gzipSync(code).length / 1024),
      "source map KiB": round(map.size / 1024),
      "import ms (median)": round(ms, 1),
      "x empty": round(ms / Math.max(emptyMs, 0.01), 1),
      handler,
      "largest parts (KiB)": largest
        .filter(([, b]) => b >= 1024)
        .map(([pkg, b]) => `${pkg} ${round(b / 1024)}`)
        .join(", "),
    });
    log(
      `cold-start ${name}: ${round(code.length / 1024)} KiB, import ${round(ms, 1)} ms, handler ${handler}`,
    );
  }
  return {
    name: "cold-start",
    title: `Cold start: bundle size and import time in a fresh Node process (median of ${RUNS})`,
    columns: Object.keys(rows[0] ?? {}),
    rows,
    targets: [],
    notes: [
      "Bundled like the stack (ESM, minified, node24, AWS SDK included, createRequire banner) into bench/tmp/cold-start/. Import = `await import()` of the bundle inside a fresh `node` with NODE_OPTIONS=--enable-source-maps as the stack sets it; it excludes Node's own start-up and Lambda's runtime init, and any first-invocation work (Secrets Manager read, client creation).",
    ],
  };
}
