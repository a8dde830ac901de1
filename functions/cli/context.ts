/**
 * What every command module gets from the program: the process's streams and environment,
 * the exit code to set, output helpers and the API client (built on first use, from the
 * environment only).
 */
import type { Command } from "commander";
import type { OnboardingClient } from "./client.ts";
import type { Writable } from "./format.ts";

/** What the CLI touches of its process; tests and main.ts pass the real ones. */
export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  /** Whether stderr is a terminal (progress bar redraws in place). */
  stderrIsTty: boolean;
  /** Whether stdin is a terminal (confirmation prompts are possible). */
  stdinIsTty: boolean;
  stdin?: NodeJS.ReadableStream;
}

export interface CommandContext {
  io: CliIo;
  /** The process exit code once the command returns. */
  state: { exitCode: number };
  /** A line (or lines) on stdout. */
  out(text: string): void;
  printJson(value: unknown): void;
  /** The API client; throws MissingApiKeyError or UsageError on a bad environment. */
  client(): OnboardingClient;
  /** Whether `--json` was given. */
  json(cmd: Command): boolean;
}
