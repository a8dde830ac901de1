/**
 * What every command module gets from the program: the process's streams and environment,
 * the exit code to set, output helpers and the API client (built on first use, from the
 * environment only).
 */
import type { Command } from "commander";
import { OnboardingClient } from "./client.ts";
import { MissingApiKeyError, UsageError } from "./errors.ts";
import type { Writable } from "./format.ts";

export const DEFAULT_API_URL = "http://127.0.0.1:3000";

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

interface GlobalOptions {
  json?: boolean;
}

/** The context the program hands to every command module. */
export function createCommandContext(io: CliIo, state: { exitCode: number }): CommandContext {
  const out = (text: string): void => {
    io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  };
  return {
    io,
    state,
    out,
    printJson: (value) => out(JSON.stringify(value, null, 2)),
    client: () => clientFromEnv(io.env),
    json: (cmd) => Boolean(cmd.optsWithGlobals<GlobalOptions>().json),
  };
}

/** The API client from ONBOARDING_API_URL and ONBOARDING_API_KEY (never from a flag). */
export function clientFromEnv(env: NodeJS.ProcessEnv): OnboardingClient {
  const apiKey = env["ONBOARDING_API_KEY"];
  if (!apiKey) throw new MissingApiKeyError();
  const baseUrl = env["ONBOARDING_API_URL"] || DEFAULT_API_URL;
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new UsageError(`ONBOARDING_API_URL is not a URL: ${baseUrl}`);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new UsageError(`ONBOARDING_API_URL must be http(s): ${baseUrl}`);
  }
  if (parsed.username || parsed.password) {
    throw new UsageError("ONBOARDING_API_URL must not carry credentials; use ONBOARDING_API_KEY.");
  }
  return new OnboardingClient({ baseUrl: parsed.href, apiKey });
}
