/**
 * A stateful Microsoft 365 simulator over HTTPS on 127.0.0.1: Entra ID tokens, Graph
 * `GET /organization` and the Exchange admin API cmdlets the onboarding workflow uses.
 *
 * @example
 * ```ts
 * const sim = await startSimulator();
 * const gateway = createM365Gateway({ clientId: sim.clientId, clientSecret: sim.clientSecret, endpoints: sim.endpoints });
 * sim.failNext(tenantId, "New-JournalRule", { kind: "throttle", retryAfterSeconds: 2 });
 * sim.tenant(tenantId).journalRules; // what the workflow created
 * await sim.close();
 * ```
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCertificateAuthority,
  createClientCertificate,
  thumbprints,
  trustCertificate,
} from "./certificates.ts";
import { REGIONAL_HOSTS } from "./exchange/regional.ts";
import { resolveLocalhostNames } from "./localhost-names.ts";
import { loadPersisted, StateFile } from "./persistence.ts";
import { type ServerSettings, SimulatorServer } from "./server.ts";
import type { Simulator, SimulatorConfig, SimulatorControl } from "./types.ts";

export { cmdletNames } from "./exchange/cmdlets.ts";
export { EXCHANGE_ANCHOR_MAILBOX } from "./exchange/endpoint.ts";
export { ROLE_CMDLETS, servicePrincipalObjectId } from "./exchange/rbac.ts";
export { REGIONAL_DOMAIN, REGIONAL_HOSTS } from "./exchange/regional.ts";
export { type InFlightPeaks, maxInFlight } from "./in-flight.ts";
export { connectSimulator, type RemoteSimulatorControl } from "./remote.ts";
export { demoMailboxes, demoOnboardingRequest } from "./state.ts";
export type * from "./types.ts";

export interface SimulatorOptions extends SimulatorConfig {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  /** The app's client id (default: a random GUID, or the one kept in `dataDir`). */
  clientId?: string;
  /** The app's secret (default: random, or the one kept in `dataDir`). */
  clientSecret?: string;
  /** Also accept client assertions signed by a generated RSA certificate (`clientCertificatePem`). */
  clientCertificate?: boolean;
  /** PEM certificates whose key may sign client assertions (an app's own certificate). */
  trustedClientCertificates?: string[];
  /**
   * Folder that keeps the CA, the app credentials and every tenant's state across restarts.
   * Without it, everything lives in memory and the CA is written to a temporary folder.
   */
  dataDir?: string;
  /** Trust the CA in this process (default true): fetch, https and @azure/identity accept the server. */
  trust?: boolean;
  /** State of tenants when first seen (default: consented, not dehydrated). */
  tenantDefaults?: { consented?: boolean; dehydrated?: boolean };
}

/** Starts the simulator; the returned object is also its control API. */
export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const stored = await loadPersisted(options.dataDir);
  const ca = await createCertificateAuthority(stored?.ca);
  // The regional hosts are names under localhost, served by the same server.
  const serverCert = await ca.issueServerCertificate({
    dns: ["localhost", ...REGIONAL_HOSTS],
    ip: ["127.0.0.1"],
  });
  resolveLocalhostNames();
  const clientId = options.clientId ?? stored?.clientId ?? randomUUID();
  const clientSecret =
    options.clientSecret ?? stored?.clientSecret ?? `sim~${randomBytes(24).toString("base64url")}`;
  const tokenKey = stored?.tokenKey ? Buffer.from(stored.tokenKey, "base64") : randomBytes(32);
  const clientCert = options.clientCertificate
    ? await createClientCertificate(`journal-onboarding ${clientId}`)
    : undefined;
  const accepted = [
    ...(clientCert
      ? [
          {
            sha1: clientCert.thumbprintSha1,
            sha256: clientCert.thumbprintSha256,
            certPem: clientCert.certPem,
          },
        ]
      : []),
    ...(options.trustedClientCertificates ?? []).map((certPem) => ({ ...thumbprints(certPem), certPem })),
  ];

  const stateFile = new StateFile(options.dataDir, () => ({
    clientId,
    clientSecret,
    tokenKey: tokenKey.toString("base64"),
    ca: ca.pem,
    tenants: server.states(),
  }));

  const settings: ServerSettings = {
    host: "127.0.0.1",
    port: options.port ?? 0,
    tls: serverCert,
    caPem: ca.pem.certPem,
    clientId,
    clientSecret,
    clientCertificates: accepted,
    tokenKey,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
    tenantDefaults: {
      consented: options.tenantDefaults?.consented ?? true,
      dehydrated: options.tenantDefaults?.dehydrated ?? false,
    },
    config: {
      latencyMs: 0,
      seed: 1,
      pageSize: 2,
      faults: { throttleRate: 0, retryAfterSeconds: 1, serverErrorRate: 0, dropRate: 0 },
    },
    tenants: stored?.tenants ?? [],
    onChange: () => stateFile.schedule(),
  };
  const server = new SimulatorServer(settings);
  server.configure(options);
  await server.listen();

  const caDir =
    options.dataDir ?? join(tmpdir(), `m365-simulator-${process.pid}-${randomBytes(4).toString("hex")}`);
  await mkdir(caDir, { recursive: true, mode: 0o700 });
  const caPath = join(caDir, "ca.pem");
  await writeFile(caPath, ca.pem.certPem);
  if (options.trust !== false) trustCertificate(ca.pem.certPem);
  await stateFile.save();

  return {
    url: server.url,
    caPem: ca.pem.certPem,
    caPath,
    clientId,
    clientSecret,
    clientCertificatePem: clientCert ? `${clientCert.keyPem}\n${clientCert.certPem}` : undefined,
    endpoints: server.endpoints,
    close: async () => {
      await server.close();
      await stateFile.close();
    },
    ...controlOf(server),
  };
}

/** The control API's methods, each the server's own. */
function controlOf(server: SimulatorServer): SimulatorControl {
  return {
    tenant: (id) => server.tenant(id),
    calls: (id) => server.calls(id),
    resetCalls: () => server.resetCalls(),
    configure: (config) => server.configure(config),
    config: () => server.config(),
    setConsented: (id, value) => server.setConsented(id, value),
    setDehydrated: (id, value) => server.setDehydrated(id, value),
    setSignInUser: (id, user) => server.setSignInUser(id, user),
    registerRedirectUri: (uri) => server.registerRedirectUri(uri),
    userTokens: (id) => server.userTokens(id),
    setAppRoles: (id, access) => server.setAppRoles(id, access),
    failNext: (id, operation, fault, times) => server.failNext(id, operation, fault, times),
    tamper: (id, change) => server.tamper(id, change),
    reset: () => server.reset(),
    demo: (id) => server.demo(id),
    addMailboxes: (id, options) => server.addMailboxes(id, options),
  };
}
