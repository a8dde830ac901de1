/**
 * Microsoft 365: the configured app (M365_* variables), else the simulator (its state kept in
 * DATA_DIR too) on a worker thread: its TLS, JSON and cmdlets stay off the service's event loop.
 */
import { join } from "node:path";
import type { Logger } from "@aws-lambda-powertools/logger";
import { createM365Gateway, createM365GatewayFromEnv } from "../../../functions/adapters/m365/gateway.ts";
import type { TenantLeases } from "../../../functions/adapters/m365/tenant-leases.ts";
import type { M365Gateway } from "../../../functions/domain/m365.ts";
import type { Simulator, SimulatorConfig, SimulatorOptions } from "../m365-simulator/index.ts";
import { startSimulatorThread } from "../m365-simulator/thread.ts";
import { loopbackPorts } from "../own-ports.ts";
import { rememberSimulatorPort, simulatorPort } from "../simulator-port.ts";
import type { Part } from "./parts.ts";

export interface M365Part extends Part {
  m365: M365Gateway;
  /** The simulator, when no app is configured. */
  simulator: Simulator | undefined;
}

/** `stop` stops the simulator (nothing to stop for a configured app); its ports join `ownPorts`. */
export async function startM365(options: {
  env: NodeJS.ProcessEnv;
  dataDir: string;
  logger: Logger;
  simulator?: SimulatorOptions;
  ownPorts: number[];
  /** The tenants' Exchange leases both gateways take. */
  lease: TenantLeases;
}): Promise<M365Part> {
  const { env, logger, lease } = options;
  const configured = createM365GatewayFromEnv(env, { lease });
  if (configured) return { m365: configured, simulator: undefined, stop: async () => {} };
  const simulatorDir = join(options.dataDir, "m365-simulator");
  const simulator = await startSimulatorThread({
    dataDir: simulatorDir,
    port: await simulatorPort(simulatorDir, env),
    ...simulatorConfigFromEnv(env["M365_SIMULATOR_CONFIG"]),
    ...options.simulator,
  });
  try {
    await rememberSimulatorPort(simulatorDir, simulator.url);
  } catch (err) {
    await simulator.close().catch(() => undefined);
    throw err;
  }
  options.ownPorts.push(...loopbackPorts([simulator.url, ...Object.values(simulator.endpoints)]));
  const m365 = createM365Gateway({
    clientId: simulator.clientId,
    clientSecret: simulator.clientSecret,
    endpoints: simulator.endpoints,
    lease,
    onWarning: ({ tenantId, cmdlet, warnings }) =>
      logger.warn("Exchange warnings", { tenantId, cmdlet, warnings }),
  });
  return { m365, simulator, stop: () => simulator.close() };
}

/**
 * `M365_SIMULATOR_CONFIG`: JSON of the simulator's settings and real-world behaviours (for
 * example `{"replicationLagCalls":2,"ndrClearing":"never","maxConcurrentPerTenant":3}`); the
 * simulator checks each value. Read the same way by `npm start` and `npm run start:aws`.
 */
export function simulatorConfigFromEnv(raw: string | undefined): SimulatorConfig {
  if (!raw?.trim()) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error('M365_SIMULATOR_CONFIG must be a JSON object, e.g. {"replicationLagCalls":2}');
  }
  return parsed as SimulatorConfig;
}
