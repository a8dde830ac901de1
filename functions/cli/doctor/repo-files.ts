/** The repository's files the doctor reads: docs/m365-fidelity.md's assumed rows and the simulator's baseline. */
import { readFile } from "node:fs/promises";
import type { Shape } from "./report.ts";

const REPO_FILE = (path: string) => new URL(`../../../${path}`, import.meta.url);

/** The ids and titles of docs/m365-fidelity.md's "Assumed rows" section. */
export function assumedRows(markdown: string): { id: string; title: string }[] {
  const section = markdown.split(/^## Assumed rows\s*$/m)[1] ?? "";
  return [...section.matchAll(/^- \*\*([A-Z]\d+)\*\* ([^.(]+)/gm)].map((m) => ({
    id: m[1]!,
    title: m[2]!.trim(),
  }));
}

/** docs/m365-fidelity.md, or "" when it is not there. */
export async function loadFidelity(): Promise<string> {
  return readFile(REPO_FILE("docs/m365-fidelity.md"), "utf8").catch(() => "");
}

/** docs/doctor-baseline.json's shapes, or none when it is not there. */
export async function loadBaseline(): Promise<Record<string, Shape>> {
  try {
    return (
      JSON.parse(await readFile(REPO_FILE("docs/doctor-baseline.json"), "utf8")) as {
        shapes: Record<string, Shape>;
      }
    ).shapes;
  } catch {
    return {};
  }
}
