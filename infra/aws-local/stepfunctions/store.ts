/**
 * Standard executions kept in `<dataDir>/stepfunctions/executions.jsonl`: one line per change
 * (the last line of an execution wins), appended synchronously, so a restart or a kill keeps
 * every name Step Functions would still know. Names are kept 90 days after the execution closed.
 */
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export type ExecutionStatus = "RUNNING" | "SUCCEEDED" | "FAILED" | "TIMED_OUT" | "ABORTED";

export interface ExecutionRecord {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  input: string;
  output?: string;
  error?: string;
  cause?: string;
  /** Epoch milliseconds. */
  startDate: number;
  stopDate?: number;
}

export const NAME_RETENTION_MS = 90 * 24 * 3600 * 1000;

export class ExecutionStore {
  readonly #file: string;
  readonly #records = new Map<string, ExecutionRecord>();

  constructor(dataDir: string, now = Date.now()) {
    const dir = join(dataDir, "stepfunctions");
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, "executions.jsonl");
    let text = "";
    try {
      text = readFileSync(this.#file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const record = JSON.parse(line) as ExecutionRecord;
        this.#records.set(record.executionArn, record);
      } catch {
        // A line cut short by a kill: the previous state of that execution stands.
      }
    }
    // Compact: drop names past their 90 days, one line per execution.
    for (const [arn, r] of this.#records) {
      if (r.stopDate !== undefined && now - r.stopDate > NAME_RETENTION_MS) this.#records.delete(arn);
    }
    writeFileSync(this.#file, [...this.#records.values()].map((r) => `${JSON.stringify(r)}\n`).join(""));
  }

  get(executionArn: string): ExecutionRecord | undefined {
    return this.#records.get(executionArn);
  }

  all(): ExecutionRecord[] {
    return [...this.#records.values()];
  }

  put(record: ExecutionRecord): void {
    this.#records.set(record.executionArn, record);
    appendFileSync(this.#file, `${JSON.stringify(record)}\n`);
  }
}
