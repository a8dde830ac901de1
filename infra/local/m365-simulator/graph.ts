/** Microsoft Graph as the simulator serves it: `GET /v1.0/organization`. */
import type { IncomingMessage, ServerResponse } from "node:http";
import { graphError, send } from "./http.ts";
import type { SimHost } from "./server.ts";

export async function handleGraph(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
): Promise<void> {
  const claims = host.identity.authenticate(req, host.endpoints.graph);
  const path = `/${parts.slice(1).join("/")}`;
  const operation = `${req.method} ${path}`;
  if (typeof claims === "string") {
    host.record({ tenantId: "unknown", service: "graph", operation, write: false }).status = 401;
    return send(res, 401, graphError("InvalidAuthenticationToken", claims));
  }
  const tenantId = claims.tid;
  const call = host.record({ tenantId, service: "graph", operation, write: req.method !== "GET" });
  await host.latency();
  if (await host.applyFault(call, res, host.takeFault(tenantId, operation) ?? host.randomFault(), "odata"))
    return;
  if (parts[0] !== "v1.0" || req.method !== "GET" || path !== "/organization") {
    call.status = 404;
    return send(
      res,
      404,
      graphError(
        "Request_ResourceNotFound",
        `Resource '${path}' does not exist or one of its queried reference-property objects are not present.`,
      ),
    );
  }
  const state = host.state(tenantId);
  call.status = 200;
  send(res, 200, {
    "@odata.context": `${host.endpoints.graph}/v1.0/$metadata#organization`,
    value: [
      {
        id: state.tenantId,
        displayName: state.displayName,
        tenantType: "AAD",
        countryLetterCode: "US",
        // The accepted domains, the initial .onmicrosoft.com one first.
        verifiedDomains: state.acceptedDomains.map((d) => ({
          name: d.domainName,
          type: "Managed",
          isDefault: d.default,
          isInitial: d.initial,
          capabilities: "Email, OfficeCommunicationsOnline",
        })),
      },
    ],
  });
}
