/**
 * The worker of `startSimulatorThread`: starts the simulator, answers control calls on the
 * control port (waking the waiting thread through the shared signal), and closes on "close".
 */
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import { type SimulatorOptions, startSimulator } from "./index.ts";
import type { ControlReply, SimulatorThreadInfo } from "./thread.ts";
import type { SimulatorControl } from "./types.ts";

const { options, port, signal } = workerData as {
  options: SimulatorOptions;
  port: MessagePort;
  signal: Int32Array;
};

try {
  const sim = await startSimulator(options);
  port.on("message", async ({ method, args }: { method: keyof SimulatorControl; args: unknown[] }) => {
    let reply: ControlReply;
    try {
      // The caller waits on `signal` while an async control (addMailboxes) finishes here.
      reply = { value: await (sim[method] as (...a: unknown[]) => unknown)(...args) };
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      reply = { error: { name: e.name, message: e.message } };
    }
    port.postMessage(reply);
    Atomics.store(signal, 0, 1);
    Atomics.notify(signal, 0);
  });
  parentPort!.on("message", async (message: unknown) => {
    if (message !== "close") return;
    await sim.close();
    port.close();
    parentPort!.close();
  });
  const ready: SimulatorThreadInfo = {
    url: sim.url,
    caPem: sim.caPem,
    caPath: sim.caPath,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    clientCertificatePem: sim.clientCertificatePem,
    endpoints: sim.endpoints,
  };
  parentPort!.postMessage({ ready });
} catch (err) {
  parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
}
