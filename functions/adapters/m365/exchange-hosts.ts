/**
 * The hosts that may serve a tenant's Exchange admin API, and the regional redirects between them.
 *
 * The front door (`https://outlook.office365.com`) may answer a tenant's request with a 3xx to the
 * tenant's regional host (`https://<prefix>.outlook.office365.com:446/...`). `fetch` would follow a
 * 302 POST as a GET without its body and drop `Authorization` across origins, so redirects are
 * followed here: same method, body and headers (the token included), only to hosts of the cloud's
 * Exchange domain, port 446 read as 443. The regional origin is then kept for the tenant's next
 * calls. `@odata.nextLink` may point at such a host too.
 */
import { InvalidRequestError } from "../../domain/errors.ts";

/** Most redirects followed for one request (a guard against a loop). */
const MAX_REDIRECTS = 5;

export class ExchangeHosts {
  readonly #endpoint: URL;
  readonly #domain: string;
  /** The regional origin each tenant was redirected to (lower-case tenant id). */
  readonly #regional = new Map<string, string>();

  /**
   * @param endpoint the configured Exchange endpoint, e.g. `https://outlook.office365.com`.
   * @param domain the Exchange domain whose subdomains may serve the API. @default the endpoint's host
   */
  constructor(endpoint: string, domain?: string) {
    this.#endpoint = new URL(endpoint);
    this.#domain = (domain ?? this.#endpoint.hostname).toLowerCase().replace(/^\.+/, "");
  }

  /** Whether the token may be sent to `url`: https, the endpoint's host or a subdomain of the domain, the endpoint's port. */
  allows(url: URL): boolean {
    if (url.protocol !== "https:") return false;
    const host = url.hostname.toLowerCase();
    const known = host === this.#endpoint.hostname.toLowerCase() || host.endsWith(`.${this.#domain}`);
    return known && portOf(url) === portOf(this.#endpoint);
  }

  /** A Location or nextLink as a URL: resolved against `base`, port 446 read as 443. */
  resolve(location: string, base: string): URL {
    const url = new URL(location, base);
    if (url.port === "446") url.port = "";
    return url;
  }

  /** `url` with the tenant's regional origin, when it has one (the endpoint's path kept). */
  forTenant(tenantId: string, url: string): string {
    const origin = this.#regional.get(tenantId.toLowerCase());
    if (origin === undefined) return url;
    const u = new URL(url);
    return `${origin}${u.pathname}${u.search}`;
  }

  pin(tenantId: string, url: URL): void {
    if (url.origin !== this.#endpoint.origin) this.#regional.set(tenantId.toLowerCase(), url.origin);
  }

  /**
   * Sends the request, following redirects to allowed hosts with the same method, body and
   * headers; a redirect elsewhere is refused (InvalidRequestError) and never sent.
   */
  async send(
    fetchFn: typeof fetch,
    tenantId: string,
    operation: string,
    url: string,
    init: RequestInit,
  ): Promise<Response> {
    let target = this.forTenant(tenantId, url);
    for (let hop = 0; ; hop++) {
      const res = await fetchFn(target, { ...init, redirect: "manual" });
      const location = res.headers.get("location");
      if (res.status < 300 || res.status >= 400 || res.status === 304 || !location) return res;
      await res.body?.cancel();
      const next = this.resolve(location, target);
      if (!this.allows(next)) {
        throw new InvalidRequestError(
          `${operation}: Exchange redirected to ${next.origin}, which is not a host of ${this.#domain}; not followed`,
        );
      }
      if (hop >= MAX_REDIRECTS) throw new InvalidRequestError(`${operation}: too many redirects`);
      this.pin(tenantId, next);
      target = next.toString();
    }
  }
}

function portOf(url: URL): string {
  return url.port || (url.protocol === "https:" ? "443" : "80");
}
