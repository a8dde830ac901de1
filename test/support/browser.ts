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

  /**
   * The URL the page's first GET form submits to, as a click on its button sends it: its hidden
   * fields and its checked radio buttons. `choose` picks a radio button by name and value first,
   * as the admin would; one the form does not offer throws.
   */
  static formUrl(page: Page, choose: Record<string, string> = {}): string | undefined {
    const form = /<form method="get" action="([^"]*)">([\s\S]*?)<\/form>/.exec(page.html);
    if (!form) return undefined;
    const target = new URL(unescapeHtml(form[1]!), page.url);
    target.search = "";
    const radios = new Map<string, { values: string[]; checked?: string }>();
    for (const tag of form[2]!.matchAll(/<input\b([^>]*)>/g)) {
      const attrs = attributes(tag[1]!);
      const { name, value = "" } = attrs;
      if (name === undefined) continue;
      if (attrs["type"] === "hidden") target.searchParams.append(name, value);
      if (attrs["type"] === "radio") {
        const group = radios.get(name) ?? { values: [] };
        group.values.push(value);
        if ("checked" in attrs) group.checked = value;
        radios.set(name, group);
      }
    }
    for (const [name, value] of Object.entries(choose)) {
      if (!radios.get(name)?.values.includes(value)) throw new Error(`the form offers no ${name}=${value}`);
      radios.get(name)!.checked = value;
    }
    for (const [name, group] of radios) {
      if (group.checked !== undefined) target.searchParams.append(name, group.checked);
    }
    return target.toString();
  }

  /** Clicks the page's Continue button (after choosing `choose`'s radio buttons) and follows. */
  async submit(
    page: Page,
    options: { stopAt?: (url: URL) => boolean; choose?: Record<string, string> } = {},
  ): Promise<Page> {
    const url = TestBrowser.formUrl(page, options.choose);
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

/** An HTML tag's attributes (`name="value"` or bare `name`), values unescaped. */
function attributes(text: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const a of text.matchAll(/([a-z-]+)(?:="([^"]*)")?/g)) found[a[1]!] = unescapeHtml(a[2] ?? "");
  return found;
}

const unescapeHtml = (text: string) =>
  text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e] ?? e,
  );

/** The admin's choices on the consent page; by default the page's own (least privilege `setup`). */
export interface ConsentChoices {
  leastPrivilege?: "setup" | "script";
}

/**
 * The customer's admin opens a consent link in a fresh browser, reads the page, makes their
 * choices and clicks Continue, signs in: the last page.
 */
export async function consentAsAdmin(
  consentUrl: string,
  browser = new TestBrowser(),
  choices: ConsentChoices = {},
): Promise<Page> {
  const page = await browser.open(consentUrl);
  if (page.status !== 200 || !TestBrowser.formUrl(page)) return page;
  const choose: Record<string, string> = {};
  if (choices.leastPrivilege) choose["least_privilege"] = choices.leastPrivilege;
  return browser.submit(page, { choose });
}
