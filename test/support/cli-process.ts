/**
 * The CLI as people run it: `functions/cli/main.ts` in a child process with a clean environment
 * (PATH, then the variables given), its output collected.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";

const MAIN = join(import.meta.dirname, "..", "..", "functions", "cli", "main.ts");

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** How long it ran, in milliseconds. */
  ms: number;
}

export function runCliProcess(
  args: readonly string[],
  env: Record<string, string | undefined>,
): Promise<CliRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], {
      env: { PATH: process.env["PATH"], ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}
