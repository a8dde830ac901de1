#!/usr/bin/env node
/**
 * `npx onboarding ...`: the ops CLI (see program.ts and docs/operating.md).
 */
import { runCli } from "./program.ts";

// `onboarding ... | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  stderrIsTty: Boolean(process.stderr.isTTY),
  stdinIsTty: Boolean(process.stdin.isTTY),
  stdin: process.stdin,
});
