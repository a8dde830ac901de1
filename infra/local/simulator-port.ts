/**
 * The built-in simulator's port under `npm start`: `M365_SIMULATOR_PORT` when set, else the
 * port of the previous start (kept in `DATA_DIR/m365-simulator/port`) when it is free, else a
 * free one. A stable port keeps consent links made before a restart working, and the
 * walk-through's `SIM` URL the same.
 */
import { readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";

const PORT_FILE = "port";

/** Whether nothing listens on 127.0.0.1:`port`. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

function validPort(text: string | undefined): number | undefined {
  if (text === undefined || !/^[0-9]{1,5}$/.test(text.trim())) return undefined;
  const port = Number(text.trim());
  return port >= 1 && port <= 65_535 ? port : undefined;
}

/** The port to start the simulator on (0: any free one). `simulatorDir` is DATA_DIR/m365-simulator. */
export async function simulatorPort(simulatorDir: string, env: NodeJS.ProcessEnv): Promise<number> {
  const pinned = env["M365_SIMULATOR_PORT"];
  if (pinned !== undefined && pinned !== "") {
    const port = validPort(pinned);
    if (port === undefined) throw new RangeError(`M365_SIMULATOR_PORT must be a port (1-65535): ${pinned}`);
    return port;
  }
  const kept = validPort(await readFile(join(simulatorDir, PORT_FILE), "utf8").catch(() => undefined));
  return kept !== undefined && (await isFree(kept)) ? kept : 0;
}

/** Remembers the port the simulator got, for the next start. */
export async function rememberSimulatorPort(simulatorDir: string, url: string): Promise<void> {
  await writeFile(join(simulatorDir, PORT_FILE), `${new URL(url).port}\n`);
}
