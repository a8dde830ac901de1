/**
 * The CLI's errors, each tied to one exit code (documented in docs/operating.md). Scripts
 * branch on the exit code, so codes are a contract: change none without the docs.
 */

/** Process exit codes of `onboarding`. */
export const ExitCode = {
  Ok: 0,
  /** The API answered with an error not listed below (400, 422, 429, 5xx...). */
  ApiError: 1,
  /** Bad command line or configuration (unknown command, bad option, bad ONBOARDING_API_URL). */
  Usage: 2,
  NotFound: 3,
  /** The resource is not in a state that allows the action (HTTP 409). */
  Conflict: 4,
  /** No answer: connection refused, DNS failure, timeout. */
  Unreachable: 5,
  /** No key, or the API refused it (HTTP 401 or 403). */
  Auth: 6,
  /** `tenants drift`: the tenant's latest check found drift (the command itself worked). */
  Drift: 7,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Base class: every CLI error knows its exit code. */
export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** RFC 9457 problem details, as the API sends them. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: { pointer?: string; detail?: string }[];
  [key: string]: unknown;
}

/** The API answered with a non-2xx status. */
export class ApiProblemError extends CliError {
  override readonly name = "ApiProblemError";
  readonly status: number;
  readonly problem: Problem;
  readonly exitCode: ExitCode;
  constructor(status: number, problem: Problem) {
    super(problemText(status, problem));
    this.status = status;
    this.problem = problem;
    this.exitCode = exitCodeFor(status);
  }
}

/** The API could not be reached at all. */
export class ApiUnreachableError extends CliError {
  override readonly name = "ApiUnreachableError";
  readonly exitCode = ExitCode.Unreachable;
}

/** ONBOARDING_API_KEY is not set. */
export class MissingApiKeyError extends CliError {
  override readonly name = "MissingApiKeyError";
  readonly exitCode = ExitCode.Auth;
  constructor() {
    super("ONBOARDING_API_KEY is not set: export the ops (or partner) API key in the environment.");
  }
}

/** The command line or the configuration is wrong. */
export class UsageError extends CliError {
  override readonly name = "UsageError";
  readonly exitCode = ExitCode.Usage;
}

export function exitCodeFor(status: number): ExitCode {
  if (status === 401 || status === 403) return ExitCode.Auth;
  if (status === 404) return ExitCode.NotFound;
  if (status === 409) return ExitCode.Conflict;
  return ExitCode.ApiError;
}

function problemText(status: number, problem: Problem): string {
  const title = problem.title ?? `HTTP ${status}`;
  const lines = [problem.detail ? `${title}: ${problem.detail}` : title];
  for (const e of problem.errors ?? []) lines.push(`  ${e.pointer ?? ""} ${e.detail ?? ""}`.trimEnd());
  return lines.join("\n");
}
