/**
 * Names under `localhost` (`eur01.localhost`) resolve to the loopback address, as RFC 6761
 * (section 6.3) asks of name resolution libraries; this machine's resolver does not, so the
 * simulator teaches this process's `dns.lookup` (which `fetch` uses) to do it. Only names ending
 * in `.localhost` are answered here; every other name goes to the resolver as before.
 */
import dns from "node:dns";

type LookupCallback = (err: NodeJS.ErrnoException | null, address?: unknown, family?: number) => void;

let installed = false;

export function resolveLocalhostNames(): void {
  if (installed) return;
  installed = true;
  const original = dns.lookup;
  const lookup = (hostname: string, options: unknown, callback?: LookupCallback): void => {
    const cb = (typeof options === "function" ? options : callback) as LookupCallback;
    const opts = (typeof options === "object" && options !== null ? options : {}) as { all?: boolean };
    if (typeof hostname === "string" && /\.localhost\.?$/i.test(hostname)) {
      if (opts.all) process.nextTick(cb, null, [{ address: "127.0.0.1", family: 4 }]);
      else process.nextTick(cb, null, "127.0.0.1", 4);
      return;
    }
    (original as (...args: unknown[]) => void).call(dns, hostname, options, callback);
  };
  dns.lookup = lookup as typeof dns.lookup;
}
