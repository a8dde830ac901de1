/** Exchange's module file: what the EXO V3 module asks before it builds its commands. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { send } from "../http.ts";
import type { SimHost } from "../server.ts";
import { noRoleFailure } from "./answers.ts";
import { cmdletNames } from "./cmdlets.ts";
import { accessOf, allowedCmdlets } from "./rbac.ts";

/**
 * `GET /adminapi/{v1.0|beta}/{tenant}/EXOModuleFile?Version=` with `CommandName: *`: the module
 * file the EXO V3 module builds its commands from; `value[0].exportedCmdlets` lists, comma
 * separated, the cmdlets the caller's roles allow. Source: KelvinTegelaar/CIPP-API
 * New-ExoRequest.ps1 (`-AvailableCmdlets`); the other properties of the row are assumed.
 */
export async function moduleFile(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  tenantId: string,
  url: URL,
): Promise<void> {
  const call = host.record({ tenantId, service: "exchange", operation: "EXOModuleFile", write: false });
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    call.status = status;
    send(res, status, body, headers);
  };
  const claims = host.identity.authenticate(req, host.endpoints.exchange);
  if (typeof claims === "string") return reply(401, { error: { code: "Unauthorized", message: claims } });
  if (claims.tid !== tenantId) {
    return reply(401, {
      error: { code: "Unauthorized", message: `The token was issued for tenant ${claims.tid}.` },
    });
  }
  await host.latency();
  if (await host.applyFault(call, res, host.takeFault(tenantId, "EXOModuleFile"), "odata")) return;
  const access = accessOf(host.state(tenantId), claims.appid);
  // An app with no Exchange role at all is refused here too: what Connect-ExchangeOnline reports.
  if (!access.all && access.roles.size === 0) {
    const refused = noRoleFailure(claims.appid, host.behaviours.errorDetailForm);
    return reply(403, refused.body, refused.headers);
  }
  const cmdlets = allowedCmdlets(access, cmdletNames());
  reply(200, {
    "@odata.context": `${host.endpoints.exchange}/adminapi/v1.0/${tenantId}/$metadata#EXOModuleFile`,
    value: [
      {
        version: url.searchParams.get("Version") ?? "",
        commandName: String(req.headers["commandname"] ?? "*"),
        exportedCmdlets: cmdlets.join(","),
      },
    ],
  });
}
