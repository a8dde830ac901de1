/**
 * The Microsoft 365 gateway of the task function, built once per cold start (its token cache
 * serves every step that meets this container): the app's credentials come from the Secrets
 * Manager secret M365_SECRET_ARN (a certificate; a client secret works but is logged as a
 * warning), never from plain environment variables; the endpoints from M365_CLOUD or the
 * explicit M365_* variables. Its Exchange requests go out under the tenants' leases on TABLE_NAME
 * (one owner per cold start), so the per-tenant cap holds across containers.
 */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { createDocumentClient, createDynamoClient } from "../adapters/dynamodb/client.ts";
import { DynamoTenantLeaseStore } from "../adapters/dynamodb/tenant-lease-store.ts";
import { createM365Gateway } from "../adapters/m365/gateway.ts";
import type { OnCall } from "../adapters/m365/retry.ts";
import { TenantLeases } from "../adapters/m365/tenant-leases.ts";
import type { M365Gateway } from "../domain/m365.ts";
import { requireEnv } from "./aws-deps.ts";
import { M365_CLIENT_ID_PLACEHOLDER, resolveM365Endpoints } from "./config.ts";
import { logger, METRIC, MetricUnit, metrics, tracer } from "./observability.ts";

/** Counts throttles for the `M365Throttled` metric and alarm. */
export const countThrottles: OnCall = (event) => {
  if (event.status === 429 || event.errorName === "ThrottledError") {
    metrics.addMetric(METRIC.m365Throttled, MetricUnit.Count, 1);
  }
};

interface AppSecret {
  clientId?: string;
  clientSecret?: string;
  clientCertificate?: string;
}

let leases: TenantLeases | undefined;
/** This container's Exchange leases, on TABLE_NAME. */
function tenantLeases(): TenantLeases {
  leases ??= new TenantLeases({
    store: new DynamoTenantLeaseStore({
      client: createDocumentClient({ client: tracer.captureAWSv3Client(createDynamoClient()) }),
      tableName: requireEnv("TABLE_NAME"),
    }),
    onError: (err) => logger.warn("could not write a tenant's Exchange lease", { error: String(err) }),
  });
  return leases;
}

/** Waits for another environment's lease end by `atMs` (this invocation's end, less a margin). */
export function boundLeaseWaits(atMs: number): void {
  tenantLeases().boundWaitsBy(atMs);
}

/**
 * Frees the leases this container holds with no request in flight: called as each invocation
 * ends, so that a frozen container does not keep a tenant until its lease expires.
 */
export async function releaseTenantLeases(): Promise<void> {
  leases?.boundWaitsBy(undefined);
  await leases?.releaseIdle();
}

let gateway: Promise<M365Gateway> | undefined;
/** The Microsoft 365 gateway with the app's credentials from Secrets Manager. */
export function m365Gateway(): Promise<M365Gateway> {
  gateway ??= (async () => {
    const client = tracer.captureAWSv3Client(new SecretsManagerClient({}));
    const out = await client.send(new GetSecretValueCommand({ SecretId: requireEnv("M365_SECRET_ARN") }));
    const secret = JSON.parse(out.SecretString ?? "{}") as AppSecret;
    // The stack's filler where the PEM goes is not a PEM: not configured yet.
    const certificate = secret.clientCertificate?.includes("-----BEGIN")
      ? secret.clientCertificate
      : undefined;
    if (
      !secret.clientId ||
      secret.clientId === M365_CLIENT_ID_PLACEHOLDER ||
      (!certificate && !secret.clientSecret)
    ) {
      logger.error("The Microsoft 365 app secret is not filled in (see docs/deploy.md).");
      throw new Error("Microsoft 365 app credentials are not configured.");
    }
    if (!certificate) {
      logger.warn(
        "The Microsoft 365 app signs in with a client secret: Microsoft documents certificates for Exchange app-only; put a clientCertificate PEM in the secret (docs/deploy.md).",
      );
    }
    const { endpoints } = resolveM365Endpoints(process.env);
    return createM365Gateway({
      clientId: secret.clientId,
      ...(certificate
        ? { clientCertificatePem: certificate }
        : secret.clientSecret
          ? { clientSecret: secret.clientSecret }
          : {}),
      endpoints,
      onCall: countThrottles,
      lease: tenantLeases(),
      onWarning: ({ tenantId, cmdlet, warnings }) =>
        logger.warn("Exchange warnings", { tenantId, cmdlet, warnings }),
    });
  })();
  // A failed cold start must not poison the container for good.
  gateway.catch(() => {
    gateway = undefined;
  });
  return gateway;
}
