/**
 * A small browser for tests of the consent pages: follows redirects by hand, keeps cookies
 * (by host and path, as a browser does: ports do not separate them; SameSite is moot, every
 * request here is a top-level GET navigation), and submits a page's GET form.
 */

export interface Page {
  status: number;
  html: string;
  url: string;
  /** Every URL visited on the way, the first one included. */
  urls: string[];
  headers: Headers;
}

interface Cookie {
  host: string;
  path: string;
  name: string;
  value: string;
}

export class TestBrowser {
  readonly cookies: Cookie[] = [];

  /** Opens a URL and follows redirects; stops at the first URL `stopAt` accepts (not opened). */
  async open(url: string, options: { stopAt?: (url: URL) => boolean } = {}): Promise<Page> {
    const urls = [url];
    for (let hop = 0; hop < 10; hop++) {
      const current = new URL(urls.at(-1)!);
      const cookie = this.cookieHeader(current);
      const response = await fetch(current, {
        redirect: "manual",
        ...(cookie && { headers: { cookie } }),
      });
      for (const set of response.headers.getSetCookie()) this.#store(current, set);
      const location = response.headers.get("location");
      if (response.status < 300 || response.status > 399 || !location) {
        return {
          status: response.status,
          html: await response.text(),
          url: current.toString(),
          urls,
          headers: response.headers,
        };
      }
      await response.body?.cancel();
      const next = new URL(location, current);
      urls.push(next.toString());
      if (options.stopAt?.(next)) {
        return { status: response.status, html: "", url: next.toString(), urls, headers: response.headers };
      }
    }
    throw new Error("too many redirects");
  }

  /** The URL the page's first GET form submits to (hidden fields only: a click on its button). */
  static formUrl(page: Page): string | undefined {
    const form = /<form method="get" action="([^"]*)">([\s\S]*?)<\/form>/.exec(page.html);
    if (!form) return undefined;
    const target = new URL(unescapeHtml(form[1]!), page.url);
    target.search = "";
    for (const input of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) {
      target.searchParams.append(input[1]!, unescapeHtml(input[2]!));
    }
    return target.toString();
  }

  /** Clicks the page's Continue button and follows. */
  async submit(page: Page, options: { stopAt?: (url: URL) => boolean } = {}): Promise<Page> {
    const url = TestBrowser.formUrl(page);
    if (!url) throw new Error(`no form on the page: ${page.status} ${page.html.slice(0, 300)}`);
    return this.open(url, options);
  }

  cookieHeader(url: URL): string | undefined {
    const sent = this.cookies.filter((c) => c.host === url.hostname && url.pathname.startsWith(c.path));
    return sent.length ? sent.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }

  #store(url: URL, header: string): void {
    const [pair = "", ...attributes] = header.split(";").map((s) => s.trim());
    const at = pair.indexOf("=");
    const name = pair.slice(0, at);
    const path = attributes.find((a) => /^path=/i.test(a))?.slice(5) ?? "/";
    const existing = this.cookies.findIndex(
      (c) => c.host === url.hostname && c.name === name && c.path === path,
    );
    if (existing >= 0) this.cookies.splice(existing, 1);
    this.cookies.push({ host: url.hostname, path, name, value: pair.slice(at + 1) });
  }
}

const unescapeHtml = (text: string) =>
  text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e] ?? e,
  );

/**
 * The customer's admin opens a consent link in a fresh browser, reads the page and clicks
 * Continue, signs in: the last page.
 */
export async function consentAsAdmin(consentUrl: string, browser = new TestBrowser()): Promise<Page> {
  const page = await browser.open(consentUrl);
  if (page.status !== 200 || !TestBrowser.formUrl(page)) return page;
  return browser.submit(page);
}
