/**
 * The embedded DynamoDB engine: dynalite (DynamoDB's HTTP API over LevelDB), served on
 * loopback. Used by the local runtime (state in `${DATA_DIR}/dynamodb`) and the tests
 * (in memory).
 */
import { mkdir } from "node:fs/promises";
import type { Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

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
 * @example
 * const db = await startDynalite({ path: `${dataDir}/dynamodb` });
 * // ... createDocumentClient({ endpoint: db.endpoint })
 * await db.close();
 */
export async function startDynalite(options: { path?: string } = {}): Promise<RunningDynalite> {
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
