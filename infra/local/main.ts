/**
 * `npm start`: the whole service on this machine. Prints the API URL, the console and the ops
 * key. SIGTERM or SIGINT (Ctrl-C) stop it gracefully (see `LocalRuntime.close`): running
 * workflows get SHUTDOWN_GRACE_MS (default 30 s) to finish, then the process exits 0 with the
 * DATA_DIR lock released; a second signal stops at once. The next start resumes from DATA_DIR.
 *
 * `npm start` runs `exec node infra/local/main.ts`, so that the signals npm forwards reach this
 * process and not an intermediate shell that would leave it running.
 */
import { DEFAULT_SHUTDOWN_GRACE_MS, startLocalRuntime } from "./runtime.ts";

const graceMs = durationMs(process.env["SHUTDOWN_GRACE_MS"], DEFAULT_SHUTDOWN_GRACE_MS);

const runtime = await startLocalRuntime().catch((err: unknown) => {
  process.stderr.write(`Could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
// A key the operator gave in OPS_API_KEY is not echoed; a generated one is printed (and kept).
const keyShown = !process.env["OPS_API_KEY"];
const key = keyShown ? runtime.opsApiKey : "$OPS_API_KEY";
const lines = [
  "",
  `  Journal onboarding API   ${runtime.url}`,
  `  Health                   ${runtime.url}/health`,
  `  Console                  ${runtime.url}/console   (type the ops key)`,
  `  OpenAPI (needs a key)    curl -H "Authorization: Bearer ${key}" ${runtime.url}/v1/openapi.json`,
  `  Ops API key              ${keyShown ? `${runtime.opsApiKey}${runtime.opsApiKeyGenerated ? "   (generated, kept in DATA_DIR/ops-api-key)" : "   (kept in DATA_DIR/ops-api-key)"}` : "from OPS_API_KEY"}`,
  `  Microsoft 365            ${runtime.simulator ? `built-in simulator at ${runtime.simulator.url}` : "the configured app (M365_CLIENT_ID)"}`,
  ...(runtime.simulator
    ? [
        `  Simulator CA             ${runtime.simulator.caPath}   (curl --cacert; trust it in a browser to open consent links)`,
      ]
    : []),
  ...(runtime.simulator && process.env["M365_SIMULATOR_CONFIG"]?.trim()
    ? [`  Simulator behaviours     ${process.env["M365_SIMULATOR_CONFIG"].trim()}   (M365_SIMULATOR_CONFIG)`]
    : []),
  `  State                    ${runtime.dataDir}`,
  "",
  `  Ctrl-C (or SIGTERM) stops it; running workflows get ${Math.round(graceMs / 1000)} s to finish.`,
  "",
];
process.stdout.write(`${lines.join("\n")}\n`);

let stopping = 0;
const stop = async (signal: string) => {
  if (stopping) {
    // Ctrl-C reaches this process twice: from the terminal and forwarded by npm.
    if (Date.now() - stopping < 1_000) return;
    process.stdout.write(
      `${signal} again: stopping now. A workflow cut off is marked failed (INTERRUPTED) at the next start: retry it then.\n`,
    );
    process.exit(130);
  }
  stopping = Date.now();
  process.stdout.write(
    `\n${signal}: stopping (running workflows get up to ${Math.round(graceMs / 1000)} s; ${signal} again to stop now)...\n`,
  );
  try {
    await runtime.close({ graceMs });
    process.stdout.write("Stopped.\n");
    process.exit(0);
  } catch (err) {
    process.stderr.write(`Stopped with an error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

function durationMs(value: string | undefined, fallback: number): number {
  if (value === undefined || value === "") return fallback;
  const ms = Number(value);
  if (!Number.isFinite(ms) || ms < 0) {
    process.stderr.write(`SHUTDOWN_GRACE_MS must be a number of milliseconds; using ${fallback}.\n`);
    return fallback;
  }
  return ms;
}
