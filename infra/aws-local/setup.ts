/**
 * Start-up chores of the AWS form: the DATA_DIR lock, `cdk synth` when cdk.out is missing or
 * older than the sources, and the Microsoft 365 app the functions use (the configured one,
 * else the built-in simulator, as `npm start` does).
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Simulator } from "../local/m365-simulator/index.ts";
import { startSimulatorThread } from "../local/m365-simulator/thread.ts";
import { simulatorConfigFromEnv } from "../local/parts/m365.ts";

export const ROOT = join(import.meta.dirname, "..", "..");

function newest(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules" || entry.startsWith(".")) continue;
    latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/** Runs `cdk synth` when cdk.out is missing or older than what it is built from. Returns whether it did. */
export function synthIfStale(cdkOut: string, log: (line: string) => void): boolean {
  const manifest = join(cdkOut, "manifest.json");
  const sources = [
    "infra/app.ts",
    "infra/aws",
    "functions",
    "workflows",
    "cdk.json",
    "package-lock.json",
  ].map((p) => join(ROOT, p));
  if (existsSync(manifest)) {
    const built = statSync(manifest).mtimeMs;
    if (sources.every((s) => !existsSync(s) || newest(s) <= built)) return false;
  }
  log(
    existsSync(manifest)
      ? "cdk.out is older than the sources: synthesizing..."
      : "No cdk.out: synthesizing...",
  );
  const result = spawnSync(join(ROOT, "node_modules/.bin/cdk"), ["synth", "--quiet", "--output", cdkOut], {
    cwd: ROOT,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env["PATH"] ?? ""}` },
  });
  if (result.status !== 0) throw new Error(`cdk synth failed (exit ${result.status ?? result.signal})`);
  return true;
}

export interface M365App {
  simulator: Simulator | undefined;
  /** The app secret's value ({clientId, clientCertificate | clientSecret}). */
  secret: Record<string, string>;
  /** Variables every function gets (the endpoints; the API's client id for consent links). */
  env: Record<string, string>;
}

/** The configured app (M365_CLIENT_ID and a secret or certificate), else the simulator. */
export async function m365App(env: NodeJS.ProcessEnv, dataDir: string): Promise<M365App> {
  const pass = [
    "M365_CLOUD",
    "M365_AUTHORITY_HOST",
    "M365_GRAPH_ENDPOINT",
    "M365_EXCHANGE_ENDPOINT",
    "M365_CONSENT_REDIRECT_URI",
  ];
  const given = Object.fromEntries(pass.filter((k) => env[k]?.trim()).map((k) => [k, env[k]!.trim()]));
  const clientId = env["M365_CLIENT_ID"]?.trim();
  if (clientId) {
    const certPath = env["M365_CLIENT_CERTIFICATE_PATH"]?.trim();
    return {
      simulator: undefined,
      secret: {
        clientId,
        ...(certPath
          ? { clientCertificate: readFileSync(certPath, "utf8") }
          : { clientSecret: env["M365_CLIENT_SECRET"]?.trim() ?? "" }),
      },
      env: { ...given, M365_CLIENT_ID: clientId },
    };
  }
  const config = simulatorConfigFromEnv(env["M365_SIMULATOR_CONFIG"]);
  const simulator = await startSimulatorThread({
    dataDir: join(dataDir, "m365-simulator"),
    clientCertificate: true,
    ...config,
  });
  return {
    simulator,
    secret: {
      clientId: simulator.clientId,
      ...(simulator.clientCertificatePem
        ? { clientCertificate: simulator.clientCertificatePem }
        : { clientSecret: simulator.clientSecret }),
    },
    env: {
      ...given,
      M365_CLIENT_ID: simulator.clientId,
      M365_AUTHORITY_HOST: simulator.endpoints.authorityHost,
      M365_GRAPH_ENDPOINT: simulator.endpoints.graph,
      M365_EXCHANGE_ENDPOINT: simulator.endpoints.exchange,
      NODE_EXTRA_CA_CERTS: simulator.caPath,
    },
  };
}
