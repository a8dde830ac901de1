/**
 * API keys and usage plan keys: the template's own from the start, plus those created through
 * the management calls, kept in `<dataDir>/apigateway/keys.json` (written atomically, so a
 * restart or a kill keeps them).
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ApiKeyModel, RestApiModel, UsagePlanModel } from "./model.ts";

export interface StoredApiKey extends ApiKeyModel {
  createdDate: number;
}

interface State {
  apiKeys: StoredApiKey[];
  /** Usage plan id -> key ids. */
  planKeys: Record<string, string[]>;
}

export class ApiKeyStore {
  readonly #file: string;
  readonly #state: State;
  readonly plans: UsagePlanModel[];

  constructor(api: RestApiModel, dataDir: string) {
    const dir = join(dataDir, "apigateway");
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, "keys.json");
    this.plans = api.usagePlans;
    this.#state = load(this.#file);
    const now = Math.floor(Date.now() / 1000);
    for (const key of api.apiKeys) {
      if (!this.#state.apiKeys.some((k) => k.id === key.id))
        this.#state.apiKeys.push({ ...key, createdDate: now });
    }
    for (const [planId, keyId] of api.usagePlanKeys) {
      const keys = this.planKeyIds(planId);
      if (!keys.includes(keyId)) this.#state.planKeys[planId] = [...keys, keyId];
    }
    this.#save();
  }

  keys(): readonly StoredApiKey[] {
    return this.#state.apiKeys;
  }

  keyById(id: string): StoredApiKey | undefined {
    return this.#state.apiKeys.find((k) => k.id === id);
  }

  keyByValue(value: string): StoredApiKey | undefined {
    return this.#state.apiKeys.find((k) => k.value === value);
  }

  plan(id: string): UsagePlanModel | undefined {
    return this.plans.find((p) => p.id === id);
  }

  planKeyIds(planId: string): readonly string[] {
    return this.#state.planKeys[planId] ?? [];
  }

  /** The usage plans a key is in. */
  plansOfKey(keyId: string): UsagePlanModel[] {
    return this.plans.filter((p) => this.planKeyIds(p.id).includes(keyId));
  }

  createKey(input: { name: string; value?: string; enabled: boolean; description?: string }): StoredApiKey {
    const key: StoredApiKey = {
      id: randomBytes(5).toString("hex"),
      name: input.name,
      value: input.value ?? randomBytes(30).toString("base64url").slice(0, 40),
      enabled: input.enabled,
      createdDate: Math.floor(Date.now() / 1000),
      ...(input.description !== undefined && { description: input.description }),
    };
    this.#state.apiKeys.push(key);
    this.#save();
    return key;
  }

  deleteKey(id: string): void {
    this.#state.apiKeys = this.#state.apiKeys.filter((k) => k.id !== id);
    for (const planId of Object.keys(this.#state.planKeys)) {
      this.#state.planKeys[planId] = this.planKeyIds(planId).filter((k) => k !== id);
    }
    this.#save();
  }

  addPlanKey(planId: string, keyId: string): void {
    this.#state.planKeys[planId] = [...this.planKeyIds(planId), keyId];
    this.#save();
  }

  removePlanKey(planId: string, keyId: string): void {
    this.#state.planKeys[planId] = this.planKeyIds(planId).filter((k) => k !== keyId);
    this.#save();
  }

  #save(): void {
    const tmp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.#state));
    renameSync(tmp, this.#file);
  }
}

function load(file: string): State {
  try {
    const state = JSON.parse(readFileSync(file, "utf8")) as State;
    return { apiKeys: state.apiKeys ?? [], planKeys: state.planKeys ?? {} };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { apiKeys: [], planKeys: {} };
    throw err;
  }
}
