/**
 * The simulator on its own thread: `npm start` runs it in a worker so that its half of every
 * TLS connection, its JSON and its cmdlet logic do not share the service's event loop (and,
 * on a machine with more than one core, run beside it). The returned object is the same
 * synchronous {@link Simulator} as `startSimulator`'s: each control call (tenant, calls,
 * configure, failNext, ...) is sent to the worker and waited for with `Atomics.wait`, which
 * blocks this thread for the fraction of a millisecond the worker takes to answer; tests and
 * benchmarks call them, the service never does. `/_sim` is served by the worker's server.
 *
 * This thread trusts the simulator's CA (unless `trust: false`), as `startSimulator` does in
 * its own thread: fetch and @azure/identity here accept the server's certificate.
 */
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import { trustCertificate } from "./certificates.ts";
import type { SimulatorOptions } from "./index.ts";
import type { Simulator, SimulatorControl } from "./types.ts";

/** What the worker reports once its server listens. */
export interface SimulatorThreadInfo {
  url: string;
  caPem: string;
  caPath: string;
  clientId: string;
  clientSecret: string;
  clientCertificatePem: string | undefined;
  endpoints: Simulator["endpoints"];
}

/** A control call's answer, posted on the control port before the worker wakes this thread. */
export type ControlReply = { value: unknown } | { error: { name: string; message: string } };

/** Longest a control call may take before it is reported as hung. */
const CONTROL_TIMEOUT_MS = 30_000;

/** Starts the simulator in a worker thread; resolves when it listens. */
export async function startSimulatorThread(options: SimulatorOptions = {}): Promise<Simulator> {
  const { port1: control, port2: workerEnd } = new MessageChannel();
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(new URL("./thread-worker.ts", import.meta.url), {
    workerData: { options: { ...options, trust: false }, port: workerEnd, signal },
    transferList: [workerEnd],
  });
  const info = await new Promise<SimulatorThreadInfo>((resolve, reject) => {
    const failed = (err: unknown) => reject(err instanceof Error ? err : new Error(String(err)));
    worker.once("error", failed);
    worker.once("exit", (code) => failed(new Error(`the simulator thread exited with code ${code}`)));
    worker.once("message", (message: { ready?: SimulatorThreadInfo; error?: string }) => {
      worker.removeAllListeners("error");
      worker.removeAllListeners("exit");
      if (message.ready) resolve(message.ready);
      else failed(new Error(message.error ?? "the simulator thread did not start"));
    });
  });
  if (options.trust !== false) trustCertificate(info.caPem);

  let closed = false;
  const call = (method: keyof SimulatorControl, args: unknown[]): never => {
    if (closed) throw new Error(`simulator ${method}: the simulator is closed`);
    Atomics.store(signal, 0, 0);
    control.postMessage({ method, args });
    if (Atomics.wait(signal, 0, 0, CONTROL_TIMEOUT_MS) === "timed-out") {
      throw new Error(`simulator ${method}: no answer from the simulator thread`);
    }
    const reply = receiveMessageOnPort(control)?.message as ControlReply | undefined;
    if (!reply) throw new Error(`simulator ${method}: the simulator thread answered nothing`);
    if ("error" in reply) {
      const error = new Error(reply.error.message);
      error.name = reply.error.name;
      throw error;
    }
    return reply.value as never;
  };

  return {
    ...info,
    tenant: (id) => call("tenant", [id]),
    calls: (id) => call("calls", [id]),
    resetCalls: () => call("resetCalls", []),
    configure: (config) => call("configure", [config]),
    config: () => call("config", []),
    setConsented: (id, value) => call("setConsented", [id, value]),
    setDehydrated: (id, value) => call("setDehydrated", [id, value]),
    failNext: (id, operation, fault, times) => call("failNext", [id, operation, fault, times]),
    setAppRoles: (id, access) => call("setAppRoles", [id, access]),
    tamper: (id, change) => call("tamper", [id, change]),
    setSignInUser: (id, user) => call("setSignInUser", [id, user]),
    registerRedirectUri: (uri) => call("registerRedirectUri", [uri]),
    userTokens: (id) => call("userTokens", [id]),
    addMailboxes: async (id, request) => call("addMailboxes", [id, request]),
    reset: () => call("reset", []),
    demo: (id) => call("demo", [id]),
    close: async () => {
      if (closed) return;
      closed = true;
      // The worker closes its server and saves its state, then exits.
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      worker.postMessage("close");
      await exited;
      control.close();
    },
  };
}
