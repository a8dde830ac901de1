/**
 * Small rooms, held by test: no function over 120 lines and no file over 500 outside tests,
 * unless the code says why. A file longer than 500 lines says so in its opening comment, a
 * function longer than 120 lines in the comment right above it, each with a sentence that
 * starts "Longer than". Functions are measured from the parsed source (types stripped with
 * their positions kept), so a long object literal or a class of small methods is not a
 * function; each method is measured on its own.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { join, resolve } from "node:path";
import * as acorn from "acorn";
import * as walk from "acorn-walk";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");
const MAX_FILE_LINES = 500;
const MAX_FUNCTION_LINES = 120;
const REASON = /Longer than/;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (name === "node_modules") return [];
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

const files = ["functions", "infra", "workflows", "bench"].flatMap(sourceFiles);

/** The comment block that opens the file (after a shebang). */
function openingComment(text: string): string {
  const match = /^(?:#![^\n]*\n)?\s*(\/\*[\s\S]*?\*\/|(?:\/\/[^\n]*\n)+)/.exec(text);
  return match?.[1] ?? "";
}

interface LongFunction {
  where: string;
  lines: number;
}

function longFunctions(file: string, text: string): LongFunction[] {
  const js = file.endsWith(".ts") ? stripTypeScriptTypes(text, { mode: "strip" }) : text;
  const ast = acorn.parse(js, { ecmaVersion: "latest", sourceType: "module", locations: true });
  const lines = text.split("\n");
  const found: LongFunction[] = [];
  walk.full(ast, (node) => {
    if (
      node.type !== "FunctionDeclaration" &&
      node.type !== "FunctionExpression" &&
      node.type !== "ArrowFunctionExpression"
    ) {
      return;
    }
    const start = node.loc!.start.line;
    const length = node.loc!.end.line - start + 1;
    if (length <= MAX_FUNCTION_LINES) return;
    // The comment right above the declaration (up to 12 lines: a JSDoc block may be long).
    const above = lines.slice(Math.max(0, start - 13), start).join("\n");
    if (REASON.test(above)) return;
    found.push({ where: `${file}:${start}`, lines: length });
  });
  return found;
}

describe("small rooms", () => {
  it("measures what it checks (the rules are not vacuous)", () => {
    expect(files.length).toBeGreaterThan(150);
    const sample = `function f() {\n${"  x();\n".repeat(130)}}\n`;
    expect(longFunctions("sample.ts", sample)).toEqual([{ where: "sample.ts:1", lines: 132 }]);
    expect(longFunctions("sample.ts", `// Longer than 120 lines because it is a sample.\n${sample}`)).toEqual(
      [],
    );
  });

  it(`no file over ${MAX_FILE_LINES} lines unless its opening comment says why ("Longer than ...")`, () => {
    const long = files.filter((file) => {
      const text = readFileSync(join(ROOT, file), "utf8");
      return text.split("\n").length > MAX_FILE_LINES + 1 && !REASON.test(openingComment(text));
    });
    expect(long).toEqual([]);
  });

  it(`no function over ${MAX_FUNCTION_LINES} lines unless the comment above it says why`, () => {
    const long = files.flatMap((file) => longFunctions(file, readFileSync(join(ROOT, file), "utf8")));
    expect(long).toEqual([]);
  });
});
