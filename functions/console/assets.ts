/**
 * The ops console's static files (`static/`), answered by the API function at `GET /console`
 * (the page) and `GET /console/{file}` (its script and styles), without a key: the page holds
 * no data; it asks for the key and calls the API like any client.
 *
 * The files sit next to this module in the repository and next to the bundle's `index.mjs` in
 * Lambda (the API function copies `static/` into its bundle), so one relative URL finds both.
 * The chart library (uPlot) is vendored from node_modules: the Lambda bundle gets a copy in
 * `static/vendor/` at build time (`CONSOLE_VENDOR_FILES`, used by infra/aws/onboarding-api.ts);
 * in the repository it is read from node_modules, so that no copy is committed.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";

const STATIC_DIR = new URL("./static/", import.meta.url);

/**
 * Scripts and styles from this origin only, no inline code, no framing, no form posts
 * elsewhere; `connect-src 'self'` because the page talks to the API on the same origin.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * Third-party files the console serves, each from a package's build: `module` is its path for
 * Node's resolver (and under `node_modules/`), `file` its place under `static/` in the bundle.
 */
export const CONSOLE_VENDOR_FILES = [
  { module: "uplot/dist/uPlot.iife.min.js", file: "vendor/uPlot.iife.min.js" },
  { module: "uplot/dist/uPlot.min.css", file: "vendor/uPlot.min.css" },
] as const;

/** The console's own modules under `static/js/`, imported by `app.js`. */
export const CONSOLE_MODULES = ["core", "session", "tenants", "deliveries", "fleet", "layout"] as const;

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Request path (as in the event) -> file and media type. Nothing else is served. */
const FILES: Readonly<Record<string, { file: string; type: string; module?: string }>> = {
  "/console": { file: "index.html", type: "text/html; charset=utf-8" },
  "/console/app.js": { file: "app.js", type: JS },
  "/console/styles.css": { file: "styles.css", type: CSS },
  // app.js imports one module per view from js/ (plain ES modules, no build step).
  ...Object.fromEntries(
    CONSOLE_MODULES.map((m) => [`/console/js/${m}.js`, { file: `js/${m}.js`, type: JS }]),
  ),
  ...Object.fromEntries(
    CONSOLE_VENDOR_FILES.map(({ module, file }) => [
      `/console/${file}`,
      { file, module, type: file.endsWith(".css") ? CSS : JS },
    ]),
  ),
};

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  // A deploy must reach open consoles at their next load; the files are a few kB.
  "cache-control": "no-cache",
};

const cache = new Map<string, Promise<string>>();

/** Whether the path belongs to the console (`/console` or below). */
export function isConsolePath(path: string | null | undefined): boolean {
  return path === "/console" || (path?.startsWith("/console/") ?? false);
}

/**
 * Answers a console request.
 *
 * @example
 * ```ts
 * if (isConsolePath(event.path)) return consoleResponse(event);
 * ```
 */
export async function consoleResponse(event: Pick<APIGatewayProxyEvent, "httpMethod" | "path">) {
  const path = event.path;
  // The page links its files relatively (`console/app.js`), which only resolves from `/console`.
  if (path === "/console/") return redirect("../console");
  const entry = FILES[path];
  if (!entry) return problem(404, "Not Found", "There is no such console file.");
  if (event.httpMethod !== "GET" && event.httpMethod !== "HEAD") {
    return problem(405, "Method Not Allowed", "The console is read with GET.", { allow: "GET, HEAD" });
  }
  let body = cache.get(entry.file);
  if (!body) {
    body = readStatic(entry);
    cache.set(entry.file, body);
    body.catch(() => cache.delete(entry.file));
  }
  const text = await body;
  return {
    statusCode: 200,
    headers: { ...SECURITY_HEADERS, "content-type": entry.type },
    body: event.httpMethod === "HEAD" ? "" : text,
  } satisfies APIGatewayProxyResult;
}

/** The file under `static/`; a vendored one not copied there (the repository) from node_modules. */
async function readStatic(entry: { file: string; module?: string }): Promise<string> {
  try {
    return await readFile(new URL(entry.file, STATIC_DIR), "utf8");
  } catch (err) {
    if (!entry.module || (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    return readFile(createRequire(import.meta.url).resolve(entry.module), "utf8");
  }
}

function redirect(location: string): APIGatewayProxyResult {
  return { statusCode: 308, headers: { ...SECURITY_HEADERS, location }, body: "" };
}

function problem(
  status: number,
  title: string,
  detail: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode: status,
    headers: { ...SECURITY_HEADERS, ...headers, "content-type": "application/problem+json" },
    body: JSON.stringify({ type: "about:blank", title, status, detail }),
  };
}
