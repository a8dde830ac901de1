/**
 * Regional redirects: the front door answers some tenants' requests with a 302 to the tenant's
 * regional host, which serves them (and pages them with nextLinks on that host). Sources:
 * cisagov/ScubaGear EXORestHelper.psm1 (Get-ExchangeOnlineApiEndpoint: "Some tenants get
 * redirected to a tenant-specific subdomain", a 3xx whose Location is
 * `https://<prefix>.outlook.office365.com/...`); terraprovider/go-exoscc adminapi/transport.go
 * (follows the 302 of InvokeCommand and EXOModuleFile by hand, port 446 rewritten to 443).
 * Which tenants are redirected is the behaviour `regionalRedirect` (a share of tenants, chosen by
 * a hash of the tenant id). The simulator's regional hosts are names under `localhost` on the same
 * server (its certificate names them); the real ones are under the cloud's Exchange domain.
 */
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { SimHost } from "../server.ts";

/** The regional host names the simulator serves (on its own port). */
export const REGIONAL_HOSTS = ["eur01.localhost", "nam02.localhost"] as const;

/** The domain of the regional hosts, for the gateway's `exchangeDomain`. */
export const REGIONAL_DOMAIN = "localhost";

function bucket(tenantId: string): number {
  return createHash("sha256").update(tenantId.toLowerCase()).digest().readUInt32BE(0) / 2 ** 32;
}

/** The regional host a request arrived on, if any. */
export function regionalHostOf(req: IncomingMessage): string | undefined {
  const host = String(req.headers.host ?? "").toLowerCase();
  const name = host.replace(/:\d+$/, "");
  return (REGIONAL_HOSTS as readonly string[]).includes(name) ? host : undefined;
}

/** The host a tenant is redirected to, when the behaviour redirects it. */
export function regionalHostFor(share: number, tenantId: string): string | undefined {
  const b = bucket(tenantId);
  if (!(share > 0) || b >= share) return undefined;
  return REGIONAL_HOSTS[Math.floor((b / share) * REGIONAL_HOSTS.length) % REGIONAL_HOSTS.length];
}

/**
 * Answers 302 to the tenant's regional host when the request came to the front door and the
 * tenant is redirected; true when it answered.
 */
export function redirectToRegion(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  tenantId: string,
  operation: string,
): boolean {
  if (regionalHostOf(req)) return false;
  const regional = regionalHostFor(host.behaviours.regionalRedirect, tenantId);
  if (!regional) return false;
  const port = new URL(host.url).port;
  const call = host.record({ tenantId, service: "exchange", operation, write: false });
  call.status = 302;
  call.fault = "regional-redirect";
  res.writeHead(302, { location: `https://${regional}:${port}${req.url ?? "/"}`, "content-length": 0 });
  res.end();
  return true;
}

/** The base URL of the Exchange API as the request reached it (front door or regional host). */
export function exchangeBase(host: SimHost, req: IncomingMessage): string {
  const regional = regionalHostOf(req);
  return regional ? `https://${regional}/exchange` : host.endpoints.exchange;
}
