/** Entra's admin consent endpoint: the app is consented in the tenant at once. */
import type { ServerResponse } from "node:http";
import { entraError, escapeHtml, send } from "../http.ts";
import type { SimHost } from "../server.ts";

/** `GET /{tenant}/adminconsent?client_id=&redirect_uri=&state=`. */
export function adminConsent(host: SimHost, res: ServerResponse, tenantId: string, url: URL): void {
  const call = host.record({ tenantId, service: "identity", operation: "adminconsent", write: true });
  if (url.searchParams.get("client_id") !== host.settings.clientId) {
    call.status = 400;
    send(
      res,
      400,
      entraError(
        "unauthorized_client",
        `AADSTS700016: Application with identifier '${url.searchParams.get("client_id")}' was not found.`,
        700016,
      ),
    );
    return;
  }
  host.setConsented(tenantId, true);
  const redirect = url.searchParams.get("redirect_uri");
  if (redirect && /^https?:\/\//.test(redirect)) {
    const target = new URL(redirect);
    target.searchParams.set("admin_consent", "True");
    target.searchParams.set("tenant", tenantId);
    const state = url.searchParams.get("state");
    if (state) target.searchParams.set("state", state);
    call.status = 302;
    res.writeHead(302, { location: target.toString() }).end();
    return;
  }
  call.status = 200;
  res
    .writeHead(200, { "content-type": "text/html; charset=utf-8" })
    .end(
      `<!doctype html><title>Consent granted</title><p>Admin consent granted for tenant ${escapeHtml(tenantId)} (simulator).</p>`,
    );
}
