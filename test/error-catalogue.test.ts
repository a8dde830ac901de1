/**
 * The error catalogue (`functions/domain/error-catalogue.ts`) lists every code the service can
 * return: the codes are collected from the source of `functions/`, so that a new error class,
 * a new `{code: "..."}` or a new problem slug without its catalogue entry fails here.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { problemCode } from "../functions/api/errors.ts";
import {
  ERROR_CATALOGUE,
  errorCatalogueEntries,
  renderErrorCatalogueMarkdown,
} from "../functions/domain/error-catalogue.ts";
import { startTestApi, type TestApi } from "./support/api.ts";

const ROOT = new URL("..", import.meta.url).pathname;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (/\.(ts|js)$/.test(entry.name)) out.push(path);
  }
  return out;
}

/** code -> files using it: `code = "X"` (error classes), `code: "X"` (literals), problem slugs. */
async function codesUsedInFunctions(): Promise<Map<string, string[]>> {
  const used = new Map<string, string[]>();
  const add = (code: string, file: string) => used.set(code, [...(used.get(code) ?? []), file]);
  for (const file of await sourceFiles(join(ROOT, "functions"))) {
    const text = await readFile(file, "utf8");
    const name = relative(ROOT, file);
    for (const m of text.matchAll(/\bcode\s*[=:]\s*"([A-Z][A-Z0-9_]*)"/g)) add(m[1]!, name);
    // Problems: `new HttpError(status, "slug", ...)`, `super(status, "slug", ...)`, `domain(status, "slug", ...)`.
    if (name.startsWith("functions/api/")) {
      for (const m of text.matchAll(/\b([45][0-9]{2}),\s*"([a-z][a-z0-9-]*)"/g))
        add(problemCode(m[2]!), name);
    }
  }
  return used;
}

describe("error catalogue", () => {
  it("has an entry for every code used in functions/", async () => {
    const used = await codesUsedInFunctions();
    // The collector itself works: known codes of each kind are found.
    for (const known of [
      "M365_THROTTLED",
      "INTERRUPTED",
      "WEBHOOK_TIMEOUT",
      "VALIDATION_FAILED",
      "CONFLICT",
    ]) {
      expect(used.has(known), known).toBe(true);
    }
    const missing = [...used].filter(([code]) => !(code in ERROR_CATALOGUE));
    expect(
      missing.map(([code, files]) => `${code} (${[...new Set(files)].join(", ")})`),
      "add these to ERROR_CATALOGUE in functions/domain/error-catalogue.ts, then npm run docs:errors",
    ).toEqual([]);
  });

  it("says for each code what it means, whether a retry helps and what to do", () => {
    for (const e of errorCatalogueEntries()) {
      expect(e.code).toMatch(/^[A-Z][A-Z0-9_]*$/);
      expect(e.meaning.length, e.code).toBeGreaterThan(10);
      expect(e.action.length, e.code).toBeGreaterThan(10);
      expect(["yes", "after-fix", "no"]).toContain(e.retry);
      if (e.where === "api") expect(e.status, e.code).toBeGreaterThanOrEqual(400);
    }
  });

  it("is rendered to docs/errors.md exactly as committed (npm run docs:errors)", async () => {
    const committed = await readFile(join(ROOT, "docs/errors.md"), "utf8");
    expect(committed, "docs/errors.md is out of date: run npm run docs:errors").toBe(
      renderErrorCatalogueMarkdown(),
    );
    for (const code of Object.keys(ERROR_CATALOGUE)) expect(committed).toContain(`<a id="${code}"></a>`);
  });

  describe("over the API", () => {
    let t: TestApi;
    beforeAll(async () => {
      t = await startTestApi();
    });

    it("is served at GET /v1/errors and in the OpenAPI document", async () => {
      const served = await t.call("GET", "/v1/errors", { key: t.opsKey });
      expect(served.status).toBe(200);
      expect(served.body.items).toEqual(errorCatalogueEntries());
      const doc = await t.call("GET", "/v1/openapi.json", { key: t.opsKey });
      expect(doc.body["x-error-codes"]).toEqual(errorCatalogueEntries());
    });

    it("gives every problem a type that links to its catalogue entry", async () => {
      const partner = await t.newPartner();
      const problems = [
        await t.call("GET", "/v1/tenants"),
        await t.call("GET", "/v1/partners", { key: partner.key }),
        await t.call("GET", "/v1/nothing-here", { key: partner.key }),
        await t.call("GET", `/v1/tenants/${crypto.randomUUID()}`, { key: partner.key }),
        await t.call("GET", "/v1/tenants", { key: partner.key, query: { limit: "0" } }),
        await t.call("GET", "/v1/tenants", { key: partner.key, query: { cursor: "forged" } }),
      ];
      expect(problems.map((p) => p.body.code)).toEqual([
        "UNAUTHORIZED",
        "FORBIDDEN",
        "NOT_FOUND",
        "TENANT_NOT_FOUND",
        "VALIDATION_FAILED",
        "INVALID_CURSOR",
      ]);
      for (const p of problems) {
        expect(p.headers["content-type"]).toBe("application/problem+json");
        expect(p.body.type).toBe(`/v1/errors#${p.body.code}`);
        expect(ERROR_CATALOGUE).toHaveProperty(p.body.code);
        expect(ERROR_CATALOGUE[p.body.code as keyof typeof ERROR_CATALOGUE]).toMatchObject({
          where: "api",
          status: p.status,
        });
      }
    });
  });
});
