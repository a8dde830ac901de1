/**
 * The ports this process serves on loopback (the API, the Microsoft 365 simulator, the embedded
 * DynamoDB engine): a local webhook may never target them, so that a partner cannot make the
 * service call itself or its database.
 */
import { BlockList, isIP } from "node:net";

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** The ports of the URLs whose host is loopback (`localhost`, 127.0.0.0/8, ::1), default ports included. */
export function loopbackPorts(urls: readonly (string | undefined)[]): number[] {
  const ports = new Set<number>();
  for (const raw of urls) {
    if (!raw || !URL.canParse(raw)) continue;
    const url = new URL(raw);
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const family = isIP(host);
    const loopback =
      host === "localhost" || (family !== 0 && LOOPBACK.check(host, family === 4 ? "ipv4" : "ipv6"));
    if (!loopback) continue;
    ports.add(Number(url.port || (url.protocol === "https:" ? 443 : 80)));
  }
  return [...ports];
}
