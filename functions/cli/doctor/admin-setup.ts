/**
 * The doctor's probe of the least-privilege setup at consent (docs/m365-fidelity.md A7-A12):
 * an Exchange admin of the test tenant signs in once (`doctor --admin-sign-in`), the sign-in asks
 * for the delegated `Exchange.Manage` exactly as the consent callback does, and the probe runs
 * as that admin through the same request core: reads only (the organisation, the role of each
 * setup cmdlet, the app's service principal), and with `--write-test` the setup itself for the
 * checked mode (it creates the app's role group, which is what the app needs: it is left in place).
 * The admin's token stays in this function's runner; nothing of it reaches the report.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { createAdminSignIn } from "../../adapters/m365/admin-sign-in.ts";
import { readM365AppConfig, resolveM365Endpoints } from "../../commons/config.ts";
import { toErrorInfo } from "../../domain/errors.ts";
import { setUpLeastPrivilege } from "../../domain/least-privilege-setup.ts";
import type { OnboardingRequest } from "../../domain/tenant.ts";

/** The setup's cmdlets and the role we expect to hold each (A10). */
const SETUP_CMDLETS = [
  "New-ServicePrincipal",
  "New-RoleGroup",
  "New-ManagementRoleAssignment",
  "Add-RoleGroupMember",
];
const EXPECTED_ROLE = "Role Management";

/** Why A7-A12 stay unknown without the admin's sign-in. */
export const ADMIN_SETUP_REASONS: Readonly<Record<string, string>> = {
  A7: "needs --admin-sign-in (an Exchange admin of the test tenant signs in once)",
  A8: "needs --admin-sign-in (an Exchange admin of the test tenant signs in once)",
  A9: "needs --admin-sign-in (an Exchange admin of the test tenant signs in once)",
  A10: "needs --admin-sign-in (an Exchange admin of the test tenant signs in once)",
  A11: "needs --admin-sign-in and --write-test",
  A12: "needs a dehydrated organisation and --admin-sign-in",
};

export type ProbeVerdict = {
  verdict: "confirmed" | "refuted" | "unknown";
  detail: string;
  evidence: string[];
};

export interface AdminSetupProbe {
  checks: { id: string; title: string; status: "pass" | "fail" | "warn" | "skip"; detail: string }[];
  rows: Record<string, ProbeVerdict>;
}

export interface AdminSetupProbeOptions {
  env: NodeJS.ProcessEnv;
  tenantId: string;
  writeTest: boolean;
  mode: Pick<OnboardingRequest, "region" | "outboundGateway">;
  /** The admin's browser round trip: given the authorize URL, the URL it came back to (with `code`). */
  signIn: (authorizeUrl: string) => Promise<string>;
  /** Where the sign-in comes back (a redirect URI of the app). @default M365_DOCTOR_REDIRECT_URI or http://localhost:8400/doctor */
  redirectUri?: string;
  fetch?: typeof fetch;
}

export async function probeAdminSetup(options: AdminSetupProbeOptions): Promise<AdminSetupProbe> {
  const app = readM365AppConfig(options.env);
  if (!app) throw new Error("doctor needs the app's credentials");
  const { endpoints, explicitAuthorityHost } = resolveM365Endpoints(options.env);
  const redirectUri = options.redirectUri ?? doctorRedirectUri(options.env);
  const adapter = createAdminSignIn({
    clientId: app.clientId,
    authorityHost: endpoints.authorityHost,
    ...(explicitAuthorityHost && { disableInstanceDiscovery: true }),
    credential: app.clientCertificatePath
      ? { certificatePath: app.clientCertificatePath }
      : { clientSecret: app.clientSecret! },
    exchange: { endpoint: endpoints.exchange, ...(options.fetch && { fetch: options.fetch }) },
  });
  const probe: AdminSetupProbe = { checks: [], rows: {} };
  const row = (id: string, verdict: ProbeVerdict["verdict"], detail: string, evidence: string[] = []) => {
    probe.rows[id] = { verdict, detail, evidence };
  };
  const nonce = randomBytes(16).toString("base64url");
  const url = adapter.authorizeUrl({
    tenantId: options.tenantId,
    redirectUri,
    state: randomBytes(16).toString("base64url"),
    nonce,
    exchange: true,
  });
  const back = new URL(await options.signIn(url));
  const code = back.searchParams.get("code") ?? "";
  const redeemed = await adapter.redeem({
    tenantId: options.tenantId,
    code,
    redirectUri,
    nonce,
    exchange: true,
  });
  if (!redeemed.ok || !redeemed.admin) {
    const why = !redeemed.ok
      ? `the sign-in was not redeemed (${back.searchParams.get("error") ?? redeemed.error})`
      : redeemed.exchangeDeclined
        ? "the redemption did not grant Exchange.Manage"
        : "the app's service principal id could not be read";
    probe.checks.push({
      id: "admin-sign-in",
      title: "Admin sign-in with Exchange.Manage",
      status: "fail",
      detail: why,
    });
    if (redeemed.ok && redeemed.exchangeDeclined) row("A7", "refuted", why, ["token"]);
    return probe;
  }
  probe.checks.push({
    id: "admin-sign-in",
    title: "Admin sign-in with Exchange.Manage",
    status: "pass",
    detail: "granted",
  });
  row("A7", "confirmed", "the code's redemption granted Exchange.Manage with an access token", ["token"]);
  const { run, servicePrincipalId } = redeemed.admin;
  let dehydrated: boolean | undefined;
  try {
    dehydrated = (await run("Get-OrganizationConfig", {}))[0]?.["IsDehydrated"] === true;
    row("A9", "confirmed", "a delegated call with the UPN: anchor and the tenant id was answered", [
      "Get-OrganizationConfig",
    ]);
  } catch (err) {
    const info = toErrorInfo(err);
    row("A8", "refuted", `InvokeCommand refused the admin's delegated token: ${info.code}`, [
      "Get-OrganizationConfig",
    ]);
    row(
      "A10",
      "unknown",
      "the first call was refused; was the admin an Exchange Administrator or Global Administrator?",
    );
    return probe;
  }
  const held: string[] = [];
  for (const cmdlet of SETUP_CMDLETS) {
    const roles = await run("Get-ManagementRole", { Cmdlet: cmdlet }).catch(() => []);
    if (roles.some((r) => String(r["Name"] ?? r["Identity"]) === EXPECTED_ROLE)) held.push(cmdlet);
  }
  row(
    "A10",
    held.length === SETUP_CMDLETS.length ? "confirmed" : "refuted",
    held.length === SETUP_CMDLETS.length
      ? `${EXPECTED_ROLE} holds ${SETUP_CMDLETS.join(", ")}; the admin could read them`
      : `${EXPECTED_ROLE} holds only ${held.join(", ") || "none"} of ${SETUP_CMDLETS.join(", ")}`,
    SETUP_CMDLETS.map((c) => `Get-ManagementRole:${c}`),
  );
  if (dehydrated)
    row("A12", "unknown", "the organisation is dehydrated: run with --write-test to see the setup stop");
  if (!options.writeTest) {
    row("A8", "unknown", "the admin's token was accepted for reads; --write-test runs the setup's writes");
    return probe;
  }
  const outcome = await setUpLeastPrivilege(run, {
    appId: app.clientId,
    servicePrincipalId,
    request: options.mode,
  });
  const ok = outcome.kind === "done";
  probe.checks.push({
    id: "admin-setup",
    title: "Least-privilege setup as the admin",
    status: ok ? "pass" : outcome.kind === "hydration-pending" ? "warn" : "fail",
    detail: ok
      ? `done with ${outcome.writes} writes`
      : outcome.kind === "failed"
        ? `${outcome.step}: ${outcome.code}`
        : outcome.kind,
  });
  if (ok) {
    row(
      "A8",
      "confirmed",
      `the setup's cmdlets ran with the admin's token (${outcome.writes} writes)`,
      SETUP_CMDLETS,
    );
    row("A11", "confirmed", "Get-ServicePrincipal read the app's service principal back by its object id", [
      "Get-ServicePrincipal",
    ]);
  } else if (outcome.kind === "hydration-pending") {
    row(
      "A12",
      "confirmed",
      "Enable-OrganizationCustomization was run; the organisation still reads dehydrated",
    );
  } else {
    row("A8", "refuted", `the setup failed at ${outcome.step}: ${outcome.code}`, [outcome.step]);
  }
  return probe;
}

/** The doctor's sign-in comes back to this loopback URI (register it on the app as a Web redirect URI). */
export function doctorRedirectUri(env: NodeJS.ProcessEnv): string {
  return env["M365_DOCTOR_REDIRECT_URI"]?.trim() || "http://localhost:8400/doctor";
}

/**
 * The browser round trip on this machine: prints the URL, then waits (up to 10 minutes) on the
 * redirect URI's loopback port for the admin's browser to come back.
 */
export function loopbackSignIn(redirectUri: string, print: (line: string) => void) {
  return (authorizeUrl: string) =>
    new Promise<string>((resolve, reject) => {
      const target = new URL(redirectUri);
      const server = createServer((req, res) => {
        const url = new URL(req.url ?? "/", redirectUri);
        if (url.pathname !== target.pathname) return void res.writeHead(404).end();
        res.writeHead(200, { "content-type": "text/plain" }).end("Signed in: you can close this tab.");
        clearTimeout(timer);
        server.close();
        resolve(url.toString());
      });
      const timer = setTimeout(() => {
        server.close();
        reject(new Error("no sign-in within 10 minutes"));
      }, 600_000);
      server.listen(Number(target.port || 80), target.hostname, () =>
        print(`Sign in as an Exchange admin of the test tenant: ${authorizeUrl}`),
      );
    });
}
