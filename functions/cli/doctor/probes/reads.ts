/**
 * The reads the service makes (each one check), a distribution group's members, the role of
 * every cmdlet the product runs (A3), and the answer to a cmdlet outside the app's roles (R8).
 */
import { randomBytes } from "node:crypto";
import { NotFoundError } from "../../../domain/errors.ts";
import { CMDLET_ROLES } from "../../../domain/permissions.ts";
import { describe } from "../answers.ts";
import type { Answers } from "../report.ts";
import type { DoctorSession } from "../session.ts";

/** Every read, by key; `role:<cmdlet>` and `denied` among them. */
export async function probeReads(s: DoctorSession, available: string[] | undefined): Promise<Answers> {
  const reads: Answers = {};
  await probeServiceReads(s, reads);
  await probeGroupMembers(s, reads);
  await probeRoles(s, reads);
  // A cmdlet outside the app's roles, when there is one: the answer's form (R8).
  if (available && !available.some((c) => c.toLowerCase() === "get-mailbox")) {
    reads["denied"] = await s.run("denied:Get-Mailbox", "Get-Mailbox", { ResultSize: 1 });
  }
  return reads;
}

async function probeServiceReads(s: DoctorSession, reads: Answers): Promise<void> {
  const readList: [string, string, Record<string, unknown>][] = [
    ["Get-OrganizationConfig", "Get-OrganizationConfig", {}],
    ["Get-TransportConfig", "Get-TransportConfig", {}],
    ["Get-AcceptedDomain", "Get-AcceptedDomain", {}],
    ["Get-OutboundConnector", "Get-OutboundConnector", {}],
    ["Get-JournalRule", "Get-JournalRule", {}],
    ["Get-DistributionGroup", "Get-DistributionGroup", { ResultSize: 5 }],
    [
      "Get-Recipient:absent",
      "Get-Recipient",
      { Identity: `doctor-absent-${randomBytes(4).toString("hex")}@example.invalid` },
    ],
    // An -Identity that matches nothing: not found, or every object (the Get- pages' caution, E12).
    [
      "Get-OutboundConnector:absent",
      "Get-OutboundConnector",
      { Identity: `doctor-absent-${randomBytes(4).toString("hex")}` },
    ],
    [
      "Get-JournalRule:absent",
      "Get-JournalRule",
      { Identity: `doctor-absent-${randomBytes(4).toString("hex")}` },
    ],
  ];
  for (const [key, cmdlet, params] of readList) {
    reads[key] = await s.run(key, cmdlet, params);
    const r = reads[key]!;
    const expectedAbsent = key.endsWith(":absent") && r.error instanceof NotFoundError;
    s.check(
      `read:${key}`,
      key,
      r.error && !expectedAbsent ? "fail" : "pass",
      r.error && !expectedAbsent
        ? describe(r.error)
        : `${r.rows?.length ?? 0} rows${expectedAbsent ? " (not found, as expected)" : ""}`,
    );
  }
}

/** The members of the first distribution group read, when there is one (G4). */
async function probeGroupMembers(s: DoctorSession, reads: Answers): Promise<void> {
  const group = reads["Get-DistributionGroup"]?.rows?.[0];
  const groupId =
    typeof group?.["Identity"] === "string"
      ? group["Identity"]
      : typeof group?.["Name"] === "string"
        ? group["Name"]
        : undefined;
  if (!groupId) return;
  const r = await s.run("Get-DistributionGroupMember", "Get-DistributionGroupMember", {
    Identity: groupId,
    ResultSize: 10,
  });
  reads["Get-DistributionGroupMember"] = r;
  s.check(
    "read:Get-DistributionGroupMember",
    "Get-DistributionGroupMember",
    r.error ? "fail" : "pass",
    r.error ? describe(r.error) : `${r.rows?.length ?? 0} rows`,
  );
}

/** The role of every cmdlet the product runs (A3), as `role:<cmdlet>`. */
async function probeRoles(s: DoctorSession, reads: Answers): Promise<void> {
  const roleRows: string[] = [];
  let roleFailures = 0;
  for (const cmdlet of Object.keys(CMDLET_ROLES)) {
    const r = await s.run(`Get-ManagementRole:${cmdlet}`, "Get-ManagementRole", { Cmdlet: cmdlet });
    if (r.error) {
      roleFailures++;
      continue;
    }
    const roles = (r.rows ?? []).map((x) => String(x["Name"] ?? x["Identity"] ?? ""));
    roleRows.push(`${cmdlet}: ${roles.join(", ")}`);
    reads[`role:${cmdlet}`] = r;
  }
  s.check(
    "roles",
    "Get-ManagementRole -Cmdlet (each cmdlet's roles)",
    roleFailures === 0 ? "pass" : "warn",
    roleFailures === 0
      ? `${roleRows.length} cmdlets`
      : `${roleFailures} not readable (the app may lack a role that reads RBAC)`,
  );
}
