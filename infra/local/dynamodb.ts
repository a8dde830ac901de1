/**
 * The embedded DynamoDB engine: dynalite (DynamoDB's HTTP API over LevelDB), served on
 * loopback. Used by the local runtime (state in `${DATA_DIR}/dynamodb`) and the tests
 * (in memory).
 */
import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";

interface DynaliteOptions {
  path?: string;
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}

// dynalite is CommonJS without types.
const dynalite = createRequire(import.meta.url)("dynalite") as (options: DynaliteOptions) => Server;

export interface RunningDynalite {
  /** `http://127.0.0.1:<port>`: give it to `createDocumentClient({ endpoint })`. */
  endpoint: string;
  close(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1 on a random free port.
 *
 * @param options.path folder for the LevelDB files (created when missing); none = in memory.
 * @param options.thread serve it from a worker thread (the local runtime does): its request
 *   parsing, LevelDB work and JSON stay off the caller's event loop.
 * @example
 * const db = await startDynalite({ path: `${dataDir}/dynamodb` });
 * // ... createDocumentClient({ endpoint: db.endpoint })
 * await db.close();
 */
export async function startDynalite(
  options: { path?: string; thread?: boolean } = {},
): Promise<RunningDynalite> {
  if (options.thread) return startInWorker(options.path);
  if (options.path) await mkdir(options.path, { recursive: true });
  // Tables are usable at once: the default 500 ms CREATING phase only slows tests and start-up.
  const server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err?: Error) => (err ? reject(err) : resolve()));
        // SDK clients keep sockets alive; without this, close waits for their idle timeout.
        server.closeIdleConnections();
      }),
  };
}

/** dynalite in a worker thread (dynamodb-worker.ts); resolves when it listens. */
async function startInWorker(path: string | undefined): Promise<RunningDynalite> {
  const worker = new Worker(new URL("./dynamodb-worker.ts", import.meta.url), { workerData: { path } });
  const endpoint = await new Promise<string>((resolve, reject) => {
    const failed = (err: unknown) => reject(err instanceof Error ? err : new Error(String(err)));
    worker.once("error", failed);
    worker.once("exit", (code) => failed(new Error(`the DynamoDB thread exited with code ${code}`)));
    worker.once("message", (message: { endpoint?: string; error?: string }) => {
      worker.removeAllListeners("error");
      worker.removeAllListeners("exit");
      if (message.endpoint) resolve(message.endpoint);
      else failed(new Error(message.error ?? "the DynamoDB thread did not start"));
    });
  });
  let closed: Promise<void> | undefined;
  return {
    endpoint,
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
        worker.postMessage("close");
      });
      return closed;
    },
  };
}
