/** Persistence in `dataDir`: the CA, the app's credentials and every tenant's state, across restarts. */
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { TenantState } from "./state.ts";

export interface Persisted {
  clientId: string;
  clientSecret: string;
  tokenKey: string;
  ca: { certPem: string; keyPem: string };
  tenants: TenantState[];
}

const STATE_FILE = "simulator.json";

/** What `dataDir` keeps, or undefined (no `dataDir`, or nothing kept yet). */
export async function loadPersisted(dataDir: string | undefined): Promise<Persisted | undefined> {
  if (!dataDir) return undefined;
  try {
    return JSON.parse(await readFile(join(dataDir, STATE_FILE), "utf8")) as Persisted;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/**
 * Writes the state file (atomically, through a `.tmp` file); changes made while a write runs
 * are written once more after it. Without `dataDir`, does nothing.
 */
export class StateFile {
  readonly #dataDir: string | undefined;
  readonly #data: () => Persisted;
  #saving: Promise<void> | undefined;
  #dirty = false;

  constructor(dataDir: string | undefined, data: () => Persisted) {
    this.#dataDir = dataDir;
    this.#data = data;
  }

  /** Writes the state now. */
  async save(): Promise<void> {
    if (!this.#dataDir) return;
    const file = join(this.#dataDir, STATE_FILE);
    await writeFile(`${file}.tmp`, JSON.stringify(this.#data()), { mode: 0o600 });
    await rename(`${file}.tmp`, file);
  }

  /** The state changed: writes it soon (one write at a time). */
  schedule(): void {
    if (!this.#dataDir) return;
    this.#dirty = true;
    this.#saving ??= (async () => {
      while (this.#dirty) {
        this.#dirty = false;
        await this.save();
      }
      this.#saving = undefined;
    })();
  }

  /** Waits for the scheduled writes, then writes once more (on close). */
  async close(): Promise<void> {
    await this.#saving;
    await this.save();
  }
}
