/**
 * `npm run simulator`: the Microsoft 365 simulator on its own, for a service (or a benchmark)
 * running in another process. Prints its URL, its CA and the variables that point the
 * service at it.
 */
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { Command } from "commander";
import { rememberSimulatorPort, simulatorPort } from "../simulator-port.ts";
import { type DeniedCmdletAnswer, type NdrClearing, startSimulator } from "./index.ts";

const program = new Command()
  .name("m365-simulator")
  .description("Stateful Microsoft 365 simulator (Entra ID tokens, Graph, Exchange admin API) on 127.0.0.1")
  .option(
    "--port <port>",
    "port on 127.0.0.1 (0 picks a free one; default: M365_SIMULATOR_PORT, else the previous start's port when free)",
  )
  .option(
    "--data-dir <dir>",
    "keeps the CA, app credentials and tenants across restarts",
    join(process.env.DATA_DIR ?? ".data", "m365-simulator"),
  )
  .option("--latency <ms>", "added to every answer", "0")
  .option("--throttle-rate <share>", "share of Graph/Exchange calls answered 429", "0")
  .option("--retry-after <seconds>", "Retry-After of those 429s", "1")
  .option("--server-error-rate <share>", "share answered 503", "0")
  .option("--drop-rate <share>", "share whose connection is dropped", "0")
  .option("--seed <n>", "seed of the fault PRNG", "1")
  .option("--page-size <n>", "rows per Exchange result page", "2")
  .option("--validation-lag <n>", "connector validations that fail after creation", "0")
  .option("--refuse-hosts <hosts>", "comma-separated smart hosts whose connector validation fails", "")
  .option(
    "--replication-lag <ms>",
    "Validate-OutboundConnector doesn't find a new connector for this long",
    "0",
  )
  .option("--max-concurrent <n>", "Exchange requests in flight per tenant before 429 (0: no limit)", "0")
  .option(
    "--directory-error-rate <share>",
    "share of Exchange calls failing with a transient directory error",
    "0",
  )
  .option("--admin-api-error-rate <share>", "share of Exchange calls answered 200 with @adminapi.errors", "0")
  .option(
    "--ndr-clearing <mode>",
    "JournalingReportNdrTo clearing: allowed | while-no-rules | never",
    "while-no-rules",
  )
  .option("--hydration-delay <ms>", "time Enable-OrganizationCustomization takes to complete", "0")
  .option(
    "--denied-cmdlet-answer <form>",
    "a cmdlet outside the app's roles: not-allowed (401) | not-recognized (400)",
    "not-allowed",
  )
  .option("--unconsented", "new tenants start without admin consent (use the consent URL to grant it)")
  .option("--client-certificate", "also accept a generated client certificate (written to the data dir)")
  .parse();

const o = program.opts<Record<string, string | boolean | undefined>>();
const num = (name: string) => Number(o[name]);
const dataDir = resolve(String(o.dataDir));
const sim = await startSimulator({
  port: o.port !== undefined ? num("port") : await simulatorPort(dataDir, process.env),
  dataDir,
  latencyMs: num("latency"),
  faults: {
    throttleRate: num("throttleRate"),
    retryAfterSeconds: num("retryAfter"),
    serverErrorRate: num("serverErrorRate"),
    dropRate: num("dropRate"),
  },
  seed: num("seed"),
  pageSize: num("pageSize"),
  validation: {
    lag: num("validationLag"),
    refuseHosts: String(o.refuseHosts ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean),
  },
  replicationLagMs: num("replicationLag"),
  maxConcurrentPerTenant: num("maxConcurrent"),
  directoryErrorRate: num("directoryErrorRate"),
  adminApiErrorRate: num("adminApiErrorRate"),
  ndrClearing: String(o.ndrClearing) as NdrClearing,
  hydrationDelayMs: num("hydrationDelay"),
  deniedCmdletAnswer: String(o.deniedCmdletAnswer) as DeniedCmdletAnswer,
  tenantDefaults: { consented: !o.unconsented },
  clientCertificate: Boolean(o.clientCertificate),
});

await rememberSimulatorPort(dataDir, sim.url);

// The app secret is the simulator's own, but it still goes to a file, not the terminal.
const envPath = join(dataDir, "simulator.env");
const certPath = join(dataDir, "client-certificate.pem");
if (sim.clientCertificatePem) await writeFile(certPath, sim.clientCertificatePem, { mode: 0o600 });
const env: Record<string, string> = {
  NODE_EXTRA_CA_CERTS: sim.caPath,
  M365_CLIENT_ID: sim.clientId,
  ...(sim.clientCertificatePem
    ? { M365_CLIENT_CERTIFICATE_PATH: certPath }
    : { M365_CLIENT_SECRET: sim.clientSecret }),
  M365_AUTHORITY_HOST: sim.endpoints.authorityHost,
  M365_GRAPH_ENDPOINT: sim.endpoints.graph,
  M365_EXCHANGE_ENDPOINT: sim.endpoints.exchange,
};
await writeFile(
  envPath,
  `${Object.entries(env)
    .map(([k, v]) => `export ${k}=${JSON.stringify(v)}`)
    .join("\n")}\n`,
  { mode: 0o600 },
);

const lines = [
  `Microsoft 365 simulator listening on ${sim.url}`,
  `  CA certificate:  ${sim.caPath}`,
  `  control API:     ${sim.url}/_sim`,
  `  state kept in:   ${dataDir}`,
  "",
  `Point the service at it (the app credential is in the file, not printed):`,
  `  source ${envPath}`,
  "",
  "which sets:",
  ...Object.keys(env).map((k) => `  ${k}${k.includes("SECRET") ? "" : `=${env[k]}`}`),
];
process.stdout.write(`${lines.join("\n")}\n`);

// `npm run simulator` execs this process, so npm's forwarded SIGINT/SIGTERM arrive here. A
// second signal (or a close that hangs) ends it at once.
let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(130);
  stopping = true;
  process.stdout.write(`${signal}: stopping the simulator.\n`);
  setTimeout(() => process.exit(1), 5_000).unref();
  sim.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
