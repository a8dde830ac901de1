/**
 * `npm start`: the whole service on this machine (SPEC section 7). Prints the API URL and the
 * ops key; Ctrl-C stops it cleanly, and the next start resumes from DATA_DIR.
 */
import { startLocalRuntime } from "./runtime.ts";

const runtime = await startLocalRuntime().catch((err: unknown) => {
  process.stderr.write(`Could not start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
const lines = [
  "",
  `  Journal onboarding API   ${runtime.url}`,
  `  Health                   ${runtime.url}/health`,
  `  OpenAPI                  ${runtime.url}/v1/openapi.json`,
  // The local key is shown (SPEC: printed); one the operator gave in OPS_API_KEY is not echoed.
  `  Ops API key              ${process.env["OPS_API_KEY"] ? "from OPS_API_KEY" : `${runtime.opsApiKey}${runtime.opsApiKeyGenerated ? "   (generated, kept in DATA_DIR/ops-api-key)" : ""}`}`,
  `  Microsoft 365            ${runtime.simulator ? `built-in simulator at ${runtime.simulator.url}` : "the configured app (M365_CLIENT_ID)"}`,
  `  State                    ${runtime.dataDir}`,
  "",
  "  Ctrl-C to stop.",
  "",
];
process.stdout.write(`${lines.join("\n")}\n`);

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping (waiting up to 5 s for running workflows)...\n`);
  await runtime.close({ graceMs: 5_000 });
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
