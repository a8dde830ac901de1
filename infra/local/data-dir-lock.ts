/**
 * One service per DATA_DIR, whichever form (`npm start` or `npm run start:aws`): a pid file
 * created atomically; one left by a process that is gone (even SIGKILLed) is taken over.
 */
import { rmSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Takes DATA_DIR; the function it returns releases it (synchronously: exit handlers call it). */
export async function lockDataDir(dataDir: string): Promise<() => void> {
  const file = join(dataDir, "service.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(file, `${process.pid}\n`, { flag: "wx", mode: 0o600 });
      return () => rmSync(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number((await readFile(file, "utf8").catch(() => "")).trim());
      if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) {
        throw new Error(
          `DATA_DIR ${dataDir} is in use by another running instance (pid ${owner}); stop it or set another DATA_DIR.`,
        );
      }
      await rm(file, { force: true }); // left by a process that is gone
    }
  }
  throw new Error(`Could not lock DATA_DIR ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
