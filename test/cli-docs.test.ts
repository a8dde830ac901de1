/**
 * docs/operating.md against the code: every command the CLI has is in its table, every command
 * and option the table names exists, and the statuses it gives for the console's buttons and
 * the API's retry conflict are the code's, so that neither drifts.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../functions/cli/program.ts";
import { OFFBOARDABLE_STATUSES, RETRYABLE_STATUSES } from "../functions/domain/tenant.ts";

const sink = { write: () => true };
const program = buildProgram(
  { stdout: sink, stderr: sink, env: {}, stderrIsTty: false, stdinIsTty: false },
  { exitCode: 0 },
);

/** Every command that does something (not a group, not help), by its words: `tenants list`. */
function leaves(cmd: Command, prefix: string[] = []): Map<string, Command> {
  const found = new Map<string, Command>();
  for (const sub of cmd.commands) {
    const path = [...prefix, sub.name()];
    if (sub.commands.length > 0) for (const [k, v] of leaves(sub, path)) found.set(k, v);
    else found.set(path.join(" "), sub);
  }
  return found;
}

/** The first cell of each row of the table under "### Commands": `tenants list [--status s]`. */
async function documentedRows(): Promise<string[]> {
  const text = await readFile(join(import.meta.dirname, "..", "docs", "operating.md"), "utf8");
  const section = text.slice(text.indexOf("### Commands"));
  const rows: string[] = [];
  for (const line of section.split("\n").slice(1)) {
    if (line.startsWith("#")) break;
    const cell = /^\|\s*`([^`]+)`/.exec(line)?.[1];
    if (cell) rows.push(cell.replace(/\\\|/g, "|"));
  }
  return rows;
}

const commandOf = (row: string) => row.split(/\s+(?=[<[-])/)[0]!.trim();

describe("docs/operating.md's CLI table", () => {
  it("names every command of the CLI", async () => {
    const documented = new Set((await documentedRows()).map(commandOf));
    const missing = [...leaves(program).keys()].filter((c) => !documented.has(c));
    expect(missing).toEqual([]);
  });

  it("names only commands and options that exist", async () => {
    const commands = leaves(program);
    for (const row of await documentedRows()) {
      const command = commands.get(commandOf(row));
      expect(command, `docs name "${commandOf(row)}"`).toBeDefined();
      const options = new Set(command!.options.flatMap((o) => [o.long, o.short]).filter(Boolean));
      for (const flag of row.match(/--[a-z-]+/g) ?? []) {
        expect(options.has(flag) || flag === "--json", `${commandOf(row)} ${flag}`).toBe(true);
      }
    }
  });
});

describe("docs/operating.md's statuses", () => {
  it("name every status the console's buttons and the API's retry conflict accept", async () => {
    const text = await readFile(join(import.meta.dirname, "..", "docs", "operating.md"), "utf8");
    const flat = text.replace(/\s+/g, " ");
    const statusesAfter = (marker: string) => {
      const from = flat.indexOf(marker);
      expect(from, marker).toBeGreaterThan(-1);
      const sentence = flat.slice(from, flat.indexOf(";", from + marker.length));
      return [...sentence.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]).sort();
    };
    expect(statusesAfter("**Retry** is enabled for")).toEqual([...RETRYABLE_STATUSES].sort());
    expect(statusesAfter("**Offboard** (after a confirmation) for")).toEqual(
      [...OFFBOARDABLE_STATUSES].sort(),
    );
    expect(flat).toContain(`it can be retried only when ${RETRYABLE_STATUSES.join(", ")}.`);
  });
});
