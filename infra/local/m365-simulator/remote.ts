/** The simulator's control API from another process, over HTTPS (`/_sim/...`). */
import { trustCertificate } from "./certificates.ts";
import type {
  DemoMailboxes,
  SimCall,
  SimFault,
  SimSignInUser,
  SimulatorConfig,
  SimulatorControl,
  TenantSnapshot,
} from "./types.ts";

type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

/** {@link SimulatorControl} with every method returning a promise. */
export type RemoteSimulatorControl = Async<SimulatorControl>;

/**
 * Connects to a simulator started elsewhere (`npm run simulator`). Pass its CA PEM unless
 * this process already trusts it (NODE_EXTRA_CA_CERTS).
 */
export function connectSimulator(url: string, options: { caPem?: string } = {}): RemoteSimulatorControl {
  if (options.caPem) trustCertificate(options.caPem);
  const base = `${url.replace(/\/+$/, "")}/_sim`;
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = (await res.json()) as T;
    if (!res.ok)
      throw new Error(`simulator control ${method} ${path}: ${res.status} ${JSON.stringify(data)}`);
    return data;
  };
  const t = (id: string) => `/tenants/${encodeURIComponent(id)}`;
  return {
    tenant: (id) => call<TenantSnapshot>("GET", t(id)),
    calls: (id) => call<SimCall[]>("GET", `/calls${id ? `?tenantId=${encodeURIComponent(id)}` : ""}`),
    resetCalls: async () => void (await call("DELETE", "/calls")),
    configure: async (config: SimulatorConfig) => void (await call("POST", "/configure", config)),
    config: () => call<ReturnType<SimulatorControl["config"]>>("GET", "/config"),
    setConsented: async (id, value) => void (await call("PUT", `${t(id)}/consented`, { value })),
    setDehydrated: async (id, value) => void (await call("PUT", `${t(id)}/dehydrated`, { value })),
    setSignInUser: async (id, user: SimSignInUser | null) =>
      void (await call("PUT", `${t(id)}/sign-in-user`, { user })),
    registerRedirectUri: async (uri) => void (await call("POST", "/redirect-uris", { uri })),
    userTokens: (id) => call<string[]>("GET", `${t(id)}/user-tokens`),
    setAppRoles: async (id, access) => void (await call("PUT", `${t(id)}/app-roles`, access)),
    failNext: async (id, operation: string, fault: SimFault, times?: number) =>
      void (await call("POST", `${t(id)}/fail-next`, { operation, fault, times })),
    tamper: async (id, change) => void (await call("POST", `${t(id)}/tamper`, change)),
    reset: async () => void (await call("POST", "/reset")),
    demo: (id) => call<DemoMailboxes>("GET", `${t(id)}/demo`),
    addMailboxes: (id, options) => call<string[]>("POST", `${t(id)}/mailboxes`, options),
  };
}
