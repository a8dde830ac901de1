/**
 * The app's access: the credential kind, a token for Exchange and for Graph, Graph's
 * `/organization`, and the permission preflight (the cmdlets EXOModuleFile lists).
 */
import type { M365AppConfig } from "../../../commons/config.ts";
import { missingPermissions, requiredCmdlets } from "../../../domain/permissions.ts";
import { describe } from "../answers.ts";
import type { DoctorSession } from "../session.ts";

export function probeCredential(s: DoctorSession, app: M365AppConfig): void {
  if (app.clientCertificatePath) {
    s.check("credential", "App credential", "pass", "certificate (the documented way for Exchange app-only)");
  } else {
    s.check(
      "credential",
      "App credential",
      "warn",
      "a client secret: Microsoft documents certificates for Exchange app-only; use M365_CLIENT_CERTIFICATE_PATH in production (docs/real-tenant.md)",
    );
  }
}

/** Whether both tokens were issued; with them, also reads Graph's `/organization`. */
export async function probeTokens(s: DoctorSession): Promise<boolean> {
  let tokensOk = true;
  for (const [name, resource] of [
    ["Exchange", s.endpoints.exchange],
    ["Graph", s.endpoints.graph],
  ] as const) {
    try {
      await s.tokens.getToken(s.tenantId, resource);
      s.check(`token-${name.toLowerCase()}`, `${name} token`, "pass", resource);
    } catch (err) {
      tokensOk = false;
      s.check(`token-${name.toLowerCase()}`, `${name} token`, "fail", describe(err));
    }
  }
  if (tokensOk) {
    try {
      const token = await s.tokens.getToken(s.tenantId, s.endpoints.graph);
      const res = await s.fetch(`${s.endpoints.graph}/v1.0/organization`, {
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      });
      const o = s.observe("graph:organization", "GET /v1.0/organization");
      s.check("graph", "Graph GET /organization", res.ok ? "pass" : "fail", `HTTP ${o.status}`);
    } catch (err) {
      s.check("graph", "Graph GET /organization", "fail", describe(err));
    }
  }
  return tokensOk;
}

/** The cmdlets the app may run (undefined when EXOModuleFile lists none or fails). */
export async function probePreflight(s: DoctorSession): Promise<string[] | undefined> {
  const title = "Permission preflight (EXOModuleFile)";
  try {
    const available = await s.exchange.availableCmdlets(s.tenantId);
    s.observe("EXOModuleFile", "GET EXOModuleFile (CommandName: *)");
    if (!available) {
      s.check(
        "preflight",
        title,
        "warn",
        "no exportedCmdlets in the answer: the service skips the preflight",
      );
      return undefined;
    }
    const { mode } = s;
    const missing = missingPermissions(requiredCmdlets(mode), available);
    s.check(
      "preflight",
      title,
      missing.length === 0 ? "pass" : "fail",
      missing.length === 0
        ? `all ${requiredCmdlets(mode).length} cmdlets of ${mode.region}${mode.outboundGateway ? " with connector" : ""} allowed (${available.length} listed)`
        : `missing: ${missing.map((m) => `${m.cmdlet} (${m.role})`).join(", ")}`,
    );
    return available;
  } catch (err) {
    s.observe("EXOModuleFile", "GET EXOModuleFile (CommandName: *)", { status: 0, error: err });
    s.check("preflight", title, "fail", describe(err));
    return undefined;
  }
}
