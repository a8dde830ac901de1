/** The worker of `startDynalite({ thread: true })`: serves dynalite, closes on "close". */
import { parentPort, workerData } from "node:worker_threads";
import { startDynalite } from "./dynamodb.ts";

const { path } = workerData as { path?: string };
try {
  const db = await startDynalite(path ? { path } : {});
  parentPort!.on("message", async (message: unknown) => {
    if (message !== "close") return;
    await db.close().catch(() => undefined);
    parentPort!.close();
  });
  parentPort!.postMessage({ endpoint: db.endpoint });
} catch (err) {
  parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
}
