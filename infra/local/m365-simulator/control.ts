/** The control API over HTTPS (`/_sim/...`): what `connectSimulator` calls. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { readBody, send } from "./http.ts";
import type { SimulatorServer } from "./server.ts";
import type { SimTamper } from "./types.ts";

/** Every `SimTamper` action: anything else is a 400, not a silent `{"ok":true}`. */
const TAMPER_ACTIONS: readonly string[] = [
  "remove-journal-rule",
  "disable-journal-rule",
  "rename-journal-rule",
  "rename-group",
  "set-connector",
  "remove-recipient",
  "set-ndr-address",
  "remove-group-member",
  "revoke-consent",
] satisfies readonly SimTamper["action"][];

/**
 * Routes:
 * - `GET /_sim` (url, endpoints, clientId, tenants), `GET /_sim/config` (current configuration)
 * - `GET|DELETE /_sim/calls[?tenantId=]`, `POST /_sim/configure` (a `SimulatorConfig`), `POST /_sim/reset`
 * - `GET /_sim/tenants/:id`, `GET /_sim/tenants/:id/demo`, `GET /_sim/tenants/:id/user-tokens` (the
 *   access tokens its code grants issued to signed-in users)
 * - `PUT /_sim/tenants/:id/consented|dehydrated` (`{ value }`), `POST /_sim/tenants/:id/fail-next`,
 *   `POST /_sim/tenants/:id/mailboxes` (`{ prefix, count, group? }`)
 * - `PUT /_sim/tenants/:id/sign-in-user` (`{ user: { roles?, tenantId?, wids?, declineExchange? } | null }`): who signs
 *   in at the tenant's authorize endpoint; `POST /_sim/redirect-uris` (`{ uri }`): registers one
 * - `PUT /_sim/tenants/:id/app-roles` (`{ exchangeAdministrator?, roles? }`: the app's access)
 * - `POST /_sim/tenants/:id/tamper` (a `SimTamper`): change the tenant behind the service's back
 *   (delete, disable or rename a journal rule, edit a connector, remove a recipient such as the NDR
 *   mailbox, set the NDR address, remove a group member, rename a group); revoke consent with
 *   `consented`.
 */
export async function handleControl(
  sim: SimulatorServer,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
  url: URL,
): Promise<void> {
  const method = req.method ?? "GET";
  try {
    const body = method === "GET" || method === "DELETE" ? {} : JSON.parse((await readBody(req)) || "{}");
    const [first, id, sub] = parts;
    const ok = { ok: true };
    const route = `${method} ${first ?? ""}${id ? " :id" : ""}${sub ? ` ${sub}` : ""}`;
    switch (route) {
      case "GET ":
        return send(res, 200, {
          url: sim.url,
          endpoints: sim.endpoints,
          clientId: sim.clientId,
          tenants: sim.states().map((t) => t.tenantId),
        });
      case "GET config":
        return send(res, 200, sim.config());
      case "GET calls":
        return send(res, 200, sim.calls(url.searchParams.get("tenantId") ?? undefined));
      case "DELETE calls":
        sim.resetCalls();
        return send(res, 200, ok);
      case "POST configure":
        sim.configure(body);
        return send(res, 200, ok);
      case "POST reset":
        sim.reset();
        return send(res, 200, ok);
      case "GET tenants :id":
        return send(res, 200, sim.tenant(id!));
      case "GET tenants :id demo":
        return send(res, 200, sim.demo(id!));
      case "GET tenants :id user-tokens":
        return send(res, 200, sim.userTokens(id!));
      case "PUT tenants :id consented":
        sim.setConsented(id!, Boolean(body.value));
        return send(res, 200, ok);
      case "PUT tenants :id dehydrated":
        sim.setDehydrated(id!, Boolean(body.value));
        return send(res, 200, ok);
      case "PUT tenants :id sign-in-user":
        sim.setSignInUser(id!, body.user ?? null);
        return send(res, 200, ok);
      case "POST redirect-uris":
        if (typeof body.uri !== "string") break;
        sim.registerRedirectUri(body.uri);
        return send(res, 200, ok);
      case "PUT tenants :id app-roles":
        sim.setAppRoles(id!, body);
        return send(res, 200, ok);
      case "POST tenants :id mailboxes":
        return send(res, 200, await sim.addMailboxes(id!, body));
      case "POST tenants :id tamper":
        if (!TAMPER_ACTIONS.includes(body.action)) {
          return send(res, 400, {
            error: `unknown tamper action ${JSON.stringify(body.action)}; one of: ${TAMPER_ACTIONS.join(", ")}`,
          });
        }
        sim.tamper(id!, body);
        return send(res, 200, ok);
      case "POST tenants :id fail-next":
        if (typeof body.operation !== "string" || !body.fault) break;
        sim.failNext(id!, body.operation, body.fault, body.times);
        return send(res, 200, ok);
    }
    return send(res, 404, { error: `no control endpoint ${method} ${url.pathname}` });
  } catch (err) {
    return send(res, 400, { error: err instanceof Error ? err.message : String(err) });
  }
}
