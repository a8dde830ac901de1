/**
 * `npm install` (the README's first command) must leave the checkout as it was: npm rewrites
 * package-lock.json's root entry whenever it differs from package.json (a Node 20 npm wrote
 * `"node": ">=20"` over a lock that said `">=24"`). And the README names truthfully the
 * dependencies whose `engines` make npm warn EBADENGINE on the oldest Node it supports.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");
const read = async (file: string) => readFile(join(ROOT, file), "utf8");

interface Manifest {
  name?: string;
  version?: string;
  bin?: unknown;
  engines?: { node?: string };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

/** Whether a Node `engines` range admits Node `major` (>=, ^, ~ and || ranges, as npm's are). */
function admits(range: string, major: number): boolean {
  return range.split("||").some((alternative) => {
    const lower = /(>=|\^|~)?\s*v?(\d+)/.exec(alternative.trim());
    if (!lower) return true;
    const bound = Number(lower[2]);
    return lower[1] === ">=" ? bound <= major : bound === major;
  });
}

describe("package-lock.json", () => {
  it("has the root entry npm would write from package.json (npm install changes nothing)", async () => {
    const pkg = JSON.parse(await read("package.json")) as Manifest;
    const root = (JSON.parse(await read("package-lock.json")) as { packages: Record<string, Manifest> })
      .packages[""]!;
    for (const field of ["name", "version", "bin", "engines", "dependencies", "devDependencies"] as const) {
      expect(root[field], field).toEqual(pkg[field]);
    }
  });

  it("the README names every dependency that warns EBADENGINE on the oldest supported Node", async () => {
    const pkg = JSON.parse(await read("package.json")) as Manifest;
    const oldest = Number(/(\d+)/.exec(pkg.engines?.node ?? "")?.[1]);
    expect(oldest).toBeGreaterThan(0);
    const lock = JSON.parse(await read("package-lock.json")) as { packages: Record<string, Manifest> };
    const warned = Object.entries(lock.packages)
      .filter(([path, p]) => path !== "" && p.engines?.node && !admits(p.engines.node, oldest))
      .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length))
      .filter((name) => name !== "node"); // the pinned Node itself
    expect(warned.length).toBeGreaterThan(0);
    const readme = await read("README.md");
    const install = readme.slice(readme.indexOf("## Install"), readme.indexOf("## Walk-through"));
    const named = (name: string) =>
      install.includes(`\`${name}\``) || install.includes(`\`${name.split("/")[0]}/*\``);
    expect(warned.filter((name) => !named(name))).toEqual([]);
    expect(install).toContain(`${warned.length} EBADENGINE warnings`);
  });
});
