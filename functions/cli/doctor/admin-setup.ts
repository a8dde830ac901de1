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
import { createAdminSignIn } from "../../adapters/m365/admin-sign-in.ts";
import { type M365AppConfig, readM365AppConfig, resolveM365Endpoints } from "../../commons/config.ts";
import { toErrorInfo } from "../../domain/errors.ts";
import type { AdminExchangeAccess } from "../../domain/least-privilege-consent.ts";
import {
  type AdminCmdletRunner,
  type LeastPrivilegeInput,
  setUpLeastPrivilege,
} from "../../domain/least-privilege-setup.ts";
import type { OnboardingRequest } from "../../domain/tenant.ts";
import { doctorRedirectUri } from "./loopback-sign-in.ts";

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
  const probe: AdminSetupProbe = { checks: [], rows: {} };
  const admin = await signInAsAdmin(options, app, probe);
  if (!admin) return probe;
  if (!(await probeAsAdmin(probe, admin.run, options.writeTest))) return probe;
  await probeSetupWrites(probe, admin.run, {
    appId: app.clientId,
    servicePrincipalId: admin.servicePrincipalId,
    request: options.mode,
  });
  return probe;
}

function row(
  probe: AdminSetupProbe,
  id: string,
  verdict: ProbeVerdict["verdict"],
  detail: string,
  evidence: string[] = [],
): void {
  probe.rows[id] = { verdict, detail, evidence };
}

/** The admin's sign-in asking for Exchange.Manage, redeemed as the consent callback does (A7). */
async function signInAsAdmin(
  options: AdminSetupProbeOptions,
  app: M365AppConfig,
  probe: AdminSetupProbe,
): Promise<AdminExchangeAccess | undefined> {
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
    probe.checks.push({ id: "admin-sign-in", title: SIGN_IN_TITLE, status: "fail", detail: why });
    if (redeemed.ok && redeemed.exchangeDeclined) row(probe, "A7", "refuted", why, ["token"]);
    return undefined;
  }
  probe.checks.push({ id: "admin-sign-in", title: SIGN_IN_TITLE, status: "pass", detail: "granted" });
  row(probe, "A7", "confirmed", "the code's redemption granted Exchange.Manage with an access token", [
    "token",
  ]);
  return redeemed.admin;
}

const SIGN_IN_TITLE = "Admin sign-in with Exchange.Manage";

/**
 * The admin's reads: the organisation (A8/A9, and whether it is dehydrated, A12) and the role of
 * each setup cmdlet (A10). Whether the setup's writes should follow.
 */
async function probeAsAdmin(
  probe: AdminSetupProbe,
  run: AdminCmdletRunner,
  writeTest: boolean,
): Promise<boolean> {
  let dehydrated: boolean | undefined;
  try {
    dehydrated = (await run("Get-OrganizationConfig", {}))[0]?.["IsDehydrated"] === true;
    row(probe, "A9", "confirmed", "a delegated call with the UPN: anchor and the tenant id was answered", [
      "Get-OrganizationConfig",
    ]);
  } catch (err) {
    const info = toErrorInfo(err);
    row(probe, "A8", "refuted", `InvokeCommand refused the admin's delegated token: ${info.code}`, [
      "Get-OrganizationConfig",
    ]);
    row(
      probe,
      "A10",
      "unknown",
      "the first call was refused; was the admin an Exchange Administrator or Global Administrator?",
    );
    return false;
  }
  const held: string[] = [];
  for (const cmdlet of SETUP_CMDLETS) {
    const roles = await run("Get-ManagementRole", { Cmdlet: cmdlet }).catch(() => []);
    if (roles.some((r) => String(r["Name"] ?? r["Identity"]) === EXPECTED_ROLE)) held.push(cmdlet);
  }
  row(
    probe,
    "A10",
    held.length === SETUP_CMDLETS.length ? "confirmed" : "refuted",
    held.length === SETUP_CMDLETS.length
      ? `${EXPECTED_ROLE} holds ${SETUP_CMDLETS.join(", ")}; the admin could read them`
      : `${EXPECTED_ROLE} holds only ${held.join(", ") || "none"} of ${SETUP_CMDLETS.join(", ")}`,
    SETUP_CMDLETS.map((c) => `Get-ManagementRole:${c}`),
  );
  if (dehydrated)
    row(
      probe,
      "A12",
      "unknown",
      "the organisation is dehydrated: run with --write-test to see the setup stop",
    );
  if (!writeTest) {
    row(
      probe,
      "A8",
      "unknown",
      "the admin's token was accepted for reads; --write-test runs the setup's writes",
    );
    return false;
  }
  return true;
}

/** `--write-test`: the least-privilege setup itself, as the admin (A8, A11, A12). */
async function probeSetupWrites(
  probe: AdminSetupProbe,
  run: AdminCmdletRunner,
  input: LeastPrivilegeInput,
): Promise<void> {
  const outcome = await setUpLeastPrivilege(run, input);
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
      probe,
      "A8",
      "confirmed",
      `the setup's cmdlets ran with the admin's token (${outcome.writes} writes)`,
      SETUP_CMDLETS,
    );
    row(
      probe,
      "A11",
      "confirmed",
      "Get-ServicePrincipal read the app's service principal back by its object id",
      ["Get-ServicePrincipal"],
    );
  } else if (outcome.kind === "hydration-pending") {
    row(
      probe,
      "A12",
      "confirmed",
      "Enable-OrganizationCustomization was run; the organisation still reads dehydrated",
    );
  } else {
    row(probe, "A8", "refuted", `the setup failed at ${outcome.step}: ${outcome.code}`, [outcome.step]);
  }
}
