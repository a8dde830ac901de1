/**
 * docs/m365-fidelity.md backs each Exchange behaviour with the tests that show it, cited as
 * `test/file.test.ts` › "suite › test". A citation whose file or test title no longer exists
 * leaves the behaviour unbacked while the table still claims it: each must resolve. The last
 * part of a citation must appear in the file as written; `…` in it stands for any text (a
 * title built from a template or cut short), as `%s` and `${...}` do in the file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const table = readFileSync(join(ROOT, "docs/m365-fidelity.md"), "utf8");
const citations = [...table.matchAll(/`(test\/[\w\-/]+\.test\.ts)` › "([^"]+)"/g)].map((m) => ({
  file: m[1]!,
  title: m[2]!.split(" › ").at(-1)!,
}));

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Whether a test file holds the title: literally, or with `…` matching a template's placeholders. */
function holds(source: string, title: string): boolean {
  if (source.includes(title)) return true;
  const pattern = title.split("…").map(escapeRegExp).join("[\\s\\S]*?");
  return new RegExp(pattern).test(source);
}

describe("docs/m365-fidelity.md cites tests that exist", () => {
  it("finds the citations (the check is not vacuous)", () => {
    expect(citations.length).toBeGreaterThan(200);
    expect(holds(`it(\`fails $\{n} times\`)`, "fails … times")).toBe(true);
    expect(holds('it("fails twice")', "fails three times")).toBe(false);
  });

  it("every cited file exists and holds the cited test's title", () => {
    const missing = citations.filter(
      ({ file, title }) =>
        !existsSync(join(ROOT, file)) || !holds(readFileSync(join(ROOT, file), "utf8"), title),
    );
    expect(missing).toEqual([]);
  });
});
