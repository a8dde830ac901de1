/**
 * The layers hold by test, not by habit: what each folder may import (docs/architecture.md).
 * Imports are read from the source text (static `import ... from`, `export ... from` and
 * dynamic `import("...")`), type-only imports included: a type is a dependency too.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "..");

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return /\.(ts|js|mjs)$/.test(name) ? [path] : [];
  });
}

interface Import {
  from: string;
  /** A path relative to the repository root for a relative import; the specifier otherwise. */
  to: string;
  typeOnly: boolean;
}

function importsOf(file: string): Import[] {
  // Comments mention paths too (`functions/adapters/...`): only real import syntax counts.
  const text = readFileSync(join(ROOT, file), "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const found: Import[] = [];
  const pattern =
    /(?:^|\n)\s*(import|export)\s+(type\s+)?[^;]*?\bfrom\s+"([^"]+)"|\bimport\(\s*"([^"]+)"\s*\)/g;
  for (const match of text.matchAll(pattern)) {
    const specifier = match[3] ?? match[4]!;
    const to = specifier.startsWith(".")
      ? relative(ROOT, resolve(ROOT, dirname(file), specifier))
      : specifier;
    found.push({ from: file, to, typeOnly: Boolean(match[2]) });
  }
  return found;
}

const all = ["functions", "workflows", "infra"].flatMap(sourceFiles).flatMap(importsOf);
const under = (folder: string) => (path: string) => path === folder || path.startsWith(`${folder}/`);
const isPackage = (to: string) => !to.startsWith("functions/") && !/^(infra|workflows|test|bench)\//.test(to);

describe("architecture: what each folder may import", () => {
  it("reads the imports it checks (the rules below are not vacuous)", () => {
    expect(all.filter((i) => under("functions/domain")(i.from)).length).toBeGreaterThan(50);
    expect(all.some((i) => i.from.startsWith("functions/api/") && i.to.startsWith("functions/domain/"))).toBe(
      true,
    );
  });

  it("the domain imports only the domain and node:crypto: no AWS, no HTTP, no adapters", () => {
    const outside = all.filter(
      (i) => under("functions/domain")(i.from) && !under("functions/domain")(i.to) && i.to !== "node:crypto",
    );
    expect(outside).toEqual([]);
  });

  it("workflows/ (the ASL) imports only the domain (error names)", () => {
    const outside = all.filter(
      (i) => under("workflows")(i.from) && !under("functions/domain")(i.to) && !under("workflows")(i.to),
    );
    expect(outside).toEqual([]);
  });

  it("functions/ never imports infra/, test/ or bench/", () => {
    const outside = all.filter(
      (i) => under("functions")(i.from) && /^(infra|test|bench)\//.test(i.to) && !isPackage(i.to),
    );
    expect(outside).toEqual([]);
  });

  it("adapters never import the entries above them (API, CLI, console, webhooks), nor another adapter family", () => {
    const families = ["dynamodb", "m365", "workflow"];
    const wrong = all.filter((i) => {
      if (!under("functions/adapters")(i.from)) return false;
      if (/^functions\/(api|cli|console|webhooks)\//.test(i.to)) return true;
      const own = i.from.split("/")[2];
      return families.some((f) => f !== own && under(`functions/adapters/${f}`)(i.to));
    });
    expect(wrong).toEqual([]);
  });

  it("no domain module depends on the onboarding facade: each use case has its own ports", () => {
    const facade = "functions/domain/onboarding.ts";
    const users = all.filter((i) => i.to === facade).map((i) => i.from);
    expect(users).toContain("functions/api/app.ts");
    expect(users.filter(under("functions/domain"))).toEqual([]);
  });

  it("the cycle finder finds a cycle (the check below is not vacuous)", () => {
    const edges = new Map([
      ["a.ts", new Set(["b.ts"])],
      ["b.ts", new Set(["c.ts"])],
      ["c.ts", new Set(["a.ts", "d.ts"])],
    ]);
    expect(cyclesOf(edges)).toEqual([["a.ts", "b.ts", "c.ts"]]);
    expect(cyclesOf(new Map([["a.ts", new Set(["b.ts"])]]))).toEqual([]);
  });

  it("the domain has no import cycle: shared types live in leaf modules the ports import", () => {
    const edges = new Map<string, Set<string>>();
    for (const i of all) {
      if (!under("functions/domain")(i.from) || !under("functions/domain")(i.to)) continue;
      if (!edges.has(i.from)) edges.set(i.from, new Set());
      edges.get(i.from)!.add(i.to);
    }
    expect(edges.size).toBeGreaterThan(20);
    expect(cyclesOf(edges).map((c) => c.map((f) => f.replace("functions/domain/", "")))).toEqual([]);
  });
});

/** Tarjan's strongly connected components: each component of more than one file is a cycle (sorted). */
function cyclesOf(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, indices.get(w)!));
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      for (let w = stack.pop()!; ; w = stack.pop()!) {
        onStack.delete(w);
        component.push(w);
        if (w === v) break;
      }
      if (component.length > 1) cycles.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!indices.has(v)) visit(v);
  return cycles;
}
