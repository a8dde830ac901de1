/**
 * Where deliveries may go. A partner-supplied URL is a request this service makes on the
 * partner's behalf from inside our network (SSRF): in AWS only https, and only to public
 * addresses. The check runs when the URL is saved and again before every attempt, on the
 * address the request will then use (DNS can change between the two), and the request is
 * pinned to that address.
 */
import { lookup as dnsLookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { InvalidWebhookUrlError } from "../domain/errors.ts";

/** Resolves a host name to its addresses (node's `dns.lookup` with `all: true` by default). */
export type HostResolver = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface UrlPolicy {
  /**
   * Local runtime only: allow `http:` and loopback addresses (a receiver on 127.0.0.1).
   * Private and link-local addresses stay refused.
   * @default false
   */
  allowInsecureLoopback?: boolean;
  /**
   * Ports refused on loopback even when loopback is allowed: the service's own (the local API's
   * PORT, the Microsoft 365 simulator's), so a webhook can never call the service itself.
   */
  refusedLoopbackPorts?: () => readonly number[];
  /**
   * Added to the refusal of an `http:` URL or a loopback address while they are not allowed:
   * how to allow them where that is possible (the local runtime names WEBHOOK_ALLOW_LOOPBACK).
   */
  refusedHint?: string;
  /** @default node's dns.lookup (the system resolver) */
  resolve?: HostResolver;
}

export const MAX_WEBHOOK_URL_LENGTH = 2048;

/**
 * The ports of the service's own parts on loopback, from `WEBHOOK_OWN_PORTS` (comma-separated):
 * set only where the service runs on one machine (`npm run start:aws`), never by the stack.
 */
export function ownPortsFromEnv(env: NodeJS.ProcessEnv = process.env): number[] {
  return (env["WEBHOOK_OWN_PORTS"] ?? "")
    .split(",")
    .map(Number)
    .filter((port) => Number.isInteger(port) && port > 0);
}

/**
 * Added to a refusal of http or loopback where the service runs on one machine (`npm start`,
 * `npm run start:aws`): the setting that allows them. A deployment has no such setting.
 */
export const LOOPBACK_HINT =
  "For a receiver on this machine over http, start the service with WEBHOOK_ALLOW_LOOPBACK=true.";

const defaultResolve: HostResolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** Addresses no delivery may reach: not globally routable, or the cloud's own services. */
const NON_PUBLIC = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // private
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local, instance metadata
  ["172.16.0.0", 12], // private
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.168.0.0", 16], // private
  ["198.18.0.0", 15], // benchmarking
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv4");
}
for (const [network, prefix] of [
  ["::", 128], // unspecified
  ["::1", 128], // loopback
  ["64:ff9b:1::", 48], // local-use NAT64
  ["100::", 64], // discard
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  NON_PUBLIC.addSubnet(network, prefix, "ipv6");
}

/**
 * IPv4 carried in IPv6, as dotted IPv4: mapped `::ffff:a.b.c.d`, translated `::ffff:0:a.b.c.d`,
 * compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002:AABB:CCDD::/48`, and Teredo
 * `2001:0::/32` (its server address, and the client address stored inverted).
 */
function embeddedIpv4(address: string): string[] {
  const groups = expandIpv6(address);
  if (!groups) return [];
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  if (zeros(0, 5) && groups[5] === 0xffff) return [v4(groups[6]!, groups[7]!)];
  if (zeros(0, 4) && groups[4] === 0xffff && groups[5] === 0) return [v4(groups[6]!, groups[7]!)];
  // IPv4-compatible (deprecated) `::a.b.c.d`; `::` and `::1` themselves are listed above.
  if (zeros(0, 6) && (groups[6] !== 0 || groups[7]! > 1)) return [v4(groups[6]!, groups[7]!)];
  if (groups[0] === 0x64 && groups[1] === 0xff9b && zeros(2, 6)) return [v4(groups[6]!, groups[7]!)];
  if (groups[0] === 0x2002) return [v4(groups[1]!, groups[2]!)];
  if (groups[0] === 0x2001 && groups[1] === 0) {
    return [v4(groups[2]!, groups[3]!), v4(groups[6]! ^ 0xffff, groups[7]! ^ 0xffff)];
  }
  return [];
}

function expandIpv6(address: string): number[] | undefined {
  let text = address.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const parts = dotted[1]!.split(".").map(Number);
    text = `${text.slice(0, -dotted[1]!.length)}${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fill = tail === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array(fill).fill("0"), ...right].map((g) => Number.parseInt(g, 16));
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

function isLoopback(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const v4 = family === 6 ? embeddedIpv4(address) : [];
  if (v4.length > 0) return v4.some(isLoopback);
  return LOOPBACK.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Whether a delivery may be sent to this IP address under the policy. */
export function isAllowedAddress(
  address: string,
  policy: Pick<UrlPolicy, "allowInsecureLoopback"> = {},
): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  const type = family === 4 ? "ipv4" : "ipv6";
  const v4 = family === 6 ? embeddedIpv4(address) : [];
  if (v4.length > 0) return v4.every((a) => isAllowedAddress(a, policy));
  if (policy.allowInsecureLoopback && LOOPBACK.check(address, type)) return true;
  return !NON_PUBLIC.check(address, type);
}

/**
 * Syntax and scheme checks of a webhook URL, before any DNS. Returns the normalised URL.
 * Throws InvalidWebhookUrlError.
 */
export function checkWebhookUrlSyntax(
  url: string,
  policy: Pick<UrlPolicy, "allowInsecureLoopback" | "refusedHint"> = {},
): URL {
  if (url.length > MAX_WEBHOOK_URL_LENGTH) {
    throw new InvalidWebhookUrlError(`The URL is longer than ${MAX_WEBHOOK_URL_LENGTH} characters.`);
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidWebhookUrlError("The URL is not a valid absolute URL.");
  }
  if (parsed.protocol !== "https:" && !(policy.allowInsecureLoopback && parsed.protocol === "http:")) {
    throw new InvalidWebhookUrlError(
      policy.allowInsecureLoopback
        ? "The URL must use http or https."
        : `The URL must use https.${parsed.protocol === "http:" && policy.refusedHint ? ` ${policy.refusedHint}` : ""}`,
    );
  }
  if (parsed.username || parsed.password) {
    throw new InvalidWebhookUrlError(
      "The URL must not contain credentials; verify the webhook signature instead.",
    );
  }
  if (parsed.hash) throw new InvalidWebhookUrlError("The URL must not contain a fragment (#...).");
  return parsed;
}

/** The host of a URL without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
}

/** DNS did not answer (timeout, server failure): says nothing about the URL itself. */
export class HostLookupError extends Error {
  override readonly name = "HostLookupError";
}

/**
 * Resolves the URL's host and returns the address to connect to; throws
 * InvalidWebhookUrlError when any address it resolves to is not allowed (an attacker-controlled
 * DNS name may mix a public and a private answer) or when it does not resolve, and
 * HostLookupError when DNS did not answer.
 */
export async function resolveDeliveryAddress(
  url: URL,
  policy: UrlPolicy = {},
): Promise<{ address: string; family: 4 | 6 }> {
  const host = hostOf(url);
  let addresses: { address: string; family: number }[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await (policy.resolve ?? defaultResolve)(host);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "ENOTFOUND" || code === "ENODATA") {
        throw new InvalidWebhookUrlError(`The host ${host} does not resolve.`);
      }
      throw new HostLookupError(`The host ${host} could not be resolved (${code ?? "DNS error"}).`, {
        cause: err,
      });
    }
  }
  if (addresses.length === 0) throw new InvalidWebhookUrlError(`The host ${host} does not resolve.`);
  const refused = addresses.find((a) => !isAllowedAddress(a.address, policy));
  if (refused) {
    throw new InvalidWebhookUrlError(
      policy.allowInsecureLoopback
        ? `The host ${host} resolves to ${refused.address}, a private or link-local address.`
        : `The host ${host} resolves to ${refused.address}, which is not a public address.${isLoopback(refused.address) && policy.refusedHint ? ` ${policy.refusedHint}` : ""}`,
    );
  }
  const ownPorts = policy.refusedLoopbackPorts?.() ?? [];
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  if (ownPorts.includes(port) && addresses.some((a) => isLoopback(a.address))) {
    throw new InvalidWebhookUrlError(`The URL points at this service itself (port ${port}).`);
  }
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}

/**
 * Full check of a URL being saved: syntax, scheme, and where it resolves now. A name that
 * does not resolve at all is refused; other DNS errors (timeouts) let it through, since the
 * check is repeated before every attempt.
 */
export async function validateWebhookUrl(url: string, policy: UrlPolicy = {}): Promise<string> {
  const parsed = checkWebhookUrlSyntax(url, policy);
  try {
    await resolveDeliveryAddress(parsed, policy);
  } catch (err) {
    if (!(err instanceof HostLookupError)) throw err;
  }
  return parsed.href;
}
