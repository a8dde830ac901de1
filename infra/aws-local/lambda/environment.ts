/**
 * One Lambda-like execution environment: a child process of Node 24 running bootstrap.ts with
 * the function's environment, serving one invocation at a time. A timeout kills it
 * (`Sandbox.Timedout`), and so does a crash (`Runtime.ExitError`); either way it is not reused.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { InvokeResult } from "../contracts.ts";

const BOOTSTRAP = fileURLToPath(new URL("./bootstrap.ts", import.meta.url));

export interface EnvironmentOptions {
  /** Node 24's executable. */
  nodePath: string;
  /** The asset folder (LAMBDA_TASK_ROOT, the working directory). */
  taskRoot: string;
  env: Record<string, string>;
  memoryMb: number;
  timeoutSeconds: number;
  /** Each line the function prints (stdout and stderr). */
  onLine: (line: string, stream: "stdout" | "stderr") => void;
}

type Pending = { id: string; resolve: (result: InvokeResult) => void; timer: NodeJS.Timeout };

export class LambdaEnvironment {
  readonly #options: EnvironmentOptions;
  readonly #child: ChildProcess;
  readonly ready: Promise<InvokeResult | undefined>;
  #pending: Pending | undefined;
  #dead = false;
  #killed = false;
  #exitReason = "";

  constructor(options: EnvironmentOptions) {
    this.#options = options;
    this.#child = fork(BOOTSTRAP, [], {
      execPath: options.nodePath,
      execArgv: [`--max-old-space-size=${Math.max(64, Math.floor(options.memoryMb * 0.9))}`],
      cwd: options.taskRoot,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      serialization: "json",
    });
    for (const stream of ["stdout", "stderr"] as const) {
      let rest = "";
      this.#child[stream]?.setEncoding("utf8").on("data", (chunk: string) => {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) if (line) options.onLine(line, stream);
      });
    }
    this.ready = new Promise((resolve) => {
      this.#child.on("message", (m: { type: string } & Record<string, unknown>) => {
        if (m.type === "ready") resolve(undefined);
        else if (m.type === "init-error") resolve(failure(String(m["errorType"]), String(m["errorMessage"])));
        else this.#settle(m);
      });
      this.#child.on("exit", (code, signal) => {
        this.#dead = true;
        this.#exitReason = signal
          ? `signal: ${signal === "SIGKILL" ? "killed" : signal}`
          : `exit status ${code}`;
        resolve(failure("Runtime.ExitError", `Runtime exited with error: ${this.#exitReason}`));
        const pending = this.#pending;
        if (pending) {
          this.#pending = undefined;
          clearTimeout(pending.timer);
          pending.resolve(
            failure(
              "Runtime.ExitError",
              `RequestId: ${pending.id} Error: Runtime exited with error: ${this.#exitReason}`,
            ),
          );
        }
      });
    });
  }

  get alive(): boolean {
    return !this.#dead && !this.#killed;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  invoke(event: unknown): Promise<InvokeResult> {
    if (!this.alive) return Promise.resolve(failure("Runtime.ExitError", "Runtime exited"));
    const id = randomUUID();
    const { timeoutSeconds } = this.#options;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending = undefined;
        this.kill();
        resolve(
          failure(
            "Sandbox.Timedout",
            `RequestId: ${id} Error: Task timed out after ${timeoutSeconds.toFixed(2)} seconds`,
          ),
        );
      }, timeoutSeconds * 1000);
      this.#pending = { id, resolve, timer };
      const event$ = JSON.stringify(event ?? null);
      this.#child.send({ type: "invoke", id, event: event$, deadline: Date.now() + timeoutSeconds * 1000 });
    });
  }

  #settle(m: Record<string, unknown>) {
    const pending = this.#pending;
    if (!pending || m["id"] !== pending.id) return;
    this.#pending = undefined;
    clearTimeout(pending.timer);
    if (m["type"] === "result") {
      pending.resolve({ ok: true, payload: JSON.parse(String(m["payload"])) as unknown });
    } else {
      pending.resolve({
        ok: false,
        errorType: String(m["errorType"]),
        errorMessage: String(m["errorMessage"]),
        trace: (m["trace"] as string[] | undefined) ?? [],
      });
    }
  }

  /** Kills the process; the environment is never handed an invocation again. */
  kill(): void {
    if (this.#killed) return;
    this.#killed = true;
    this.#child.kill("SIGKILL");
  }
}

function failure(errorType: string, errorMessage: string): InvokeResult {
  return { ok: false, errorType, errorMessage };
}
