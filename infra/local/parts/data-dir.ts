/**
 * DATA_DIR: created (mode 700) and locked for this process (one service per DATA_DIR: its
 * embedded DynamoDB files can have one owner only); secrets kept in it (mode 600).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { lockDataDir } from "../data-dir-lock.ts";
import type { Part } from "./parts.ts";

/** Creates and locks DATA_DIR; `stop` releases the lock. */
export async function openDataDir(dataDir: string): Promise<Part> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const release = await lockDataDir(dataDir);
  return { stop: async () => release() };
}

/** Reads a secret kept in a file (mode 600), creating it once. */
export async function keptSecret(file: string, create: () => string): Promise<string> {
  try {
    const value = (await readFile(file, "utf8")).trim();
    if (value) return value;
  } catch {
    // not there yet
  }
  const value = create();
  await writeFile(file, `${value}\n`, { mode: 0o600 });
  return value;
}
