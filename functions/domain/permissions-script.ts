/**
 * The PowerShell a customer's admin runs once for least privilege: the app's service principal
 * registered in Exchange Online (`New-ServicePrincipal`), a role group named for the product
 * holding exactly the management roles this tenant's onboarding and offboarding need, and the
 * service principal as its member. Safe to run twice: every step checks before it creates.
 *
 * Every value that goes into the script is a PowerShell single-quoted literal (quotes doubled,
 * line breaks and control characters refused), so no stored value can inject code.
 */
import { ROLE_PURPOSE, requiredRoles } from "./permissions.ts";
import type { OnboardingRequest } from "./tenant.ts";

/** The role group's name in every customer tenant. */
export const ROLE_GROUP_NAME = "Journal Onboarding Service";

/**
 * A PowerShell single-quoted string literal. PowerShell also ends such a string at the
 * typographic quotes U+2018-U+201B, so those are doubled too; line breaks and other control
 * characters are refused (a comment or a literal must stay on its line).
 */
export function psQuote(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing them is the point
  if (/[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(value)) {
    throw new TypeError("a PowerShell literal cannot hold control characters or line breaks");
  }
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface PermissionsScriptInput {
  tenantId: string;
  /** The multi-tenant app's application (client) id. */
  appId: string;
  request: Pick<OnboardingRequest, "region" | "outboundGateway">;
}

/** The script, with the app id and the tenant filled in. */
export function permissionsScript({ tenantId, appId, request }: PermissionsScriptInput): string {
  if (!GUID.test(tenantId)) throw new TypeError("tenantId must be a GUID");
  if (!GUID.test(appId)) throw new TypeError("appId must be a GUID");
  const roles = requiredRoles(request);
  const width = Math.max(...roles.map((r) => r.length));
  const mode = `region ${request.region}, ${request.outboundGateway ? "with" : "without"} outbound connector`;
  const lines = [
    "# Least privilege for the journal onboarding app in one customer tenant.",
    `# Tenant ${tenantId} (${mode}).`,
    "#",
    "# Run once, in PowerShell 7, as an admin who may manage Exchange Online roles (Exchange",
    "# Administrator or Organization Management), after the tenant's admin consent to the app.",
    "# It registers the app's service principal in Exchange Online (New-ServicePrincipal), creates",
    `# the role group ${ROLE_GROUP_NAME} with exactly these management roles, and adds the app:`,
    "#",
    ...roles.map((r) => `#   ${r.padEnd(width)}  ${ROLE_PURPOSE[r]}`),
    "#",
    "# Safe to run again after any failure: each step checks first and changes only what is",
    "# missing. The app then needs no Entra role (remove its Exchange Administrator assignment, if",
    "# any). It stops before any change when Exchange Online is connected to another tenant.",
    "#",
    "# The service principal's object id is looked up with Microsoft Graph PowerShell",
    "# (Get-MgServicePrincipal). Without that module, pass it yourself: Entra admin center >",
    "# Enterprise applications > the app > Object ID, as -ServicePrincipalObjectId <id>.",
    "",
    "#Requires -Version 7.0",
    "#Requires -Modules ExchangeOnlineManagement",
    "param([string]$ServicePrincipalObjectId = '')",
    "$ErrorActionPreference = 'Stop'",
    "",
    `$TenantId = ${psQuote(tenantId.toLowerCase())}`,
    `$AppId = ${psQuote(appId.toLowerCase())}`,
    `$RoleGroupName = ${psQuote(ROLE_GROUP_NAME)}`,
    `$Roles = @(${roles.map(psQuote).join(", ")})`,
    "",
    "# 1. The app's service principal in this tenant's Entra ID (its object id differs per tenant).",
    "if (-not $ServicePrincipalObjectId) {",
    "  Import-Module Microsoft.Graph.Applications",
    "  Connect-MgGraph -TenantId $TenantId -Scopes 'Application.Read.All' -NoWelcome",
    "  $entraSp = Get-MgServicePrincipal -Filter \"appId eq '$AppId'\"",
    '  if (-not $entraSp) { throw "The app $AppId has no service principal in tenant $($TenantId): grant admin consent first (the tenant\'s consentUrl)." }',
    "  $ServicePrincipalObjectId = $entraSp.Id",
    "}",
    "",
    "# 2. Exchange Online (sign in as the admin), and only this tenant's.",
    "Connect-ExchangeOnline -ShowBanner:$false",
    "$connected = @(Get-ConnectionInformation | Where-Object { $_.State -eq 'Connected' })[-1]",
    'if ("$($connected.TenantID)" -ne $TenantId) {',
    '  throw "Exchange Online is connected to tenant $($connected.TenantID), not $($TenantId): sign in as an admin of $TenantId (Disconnect-ExchangeOnline first), then run this script again. Nothing was changed."',
    "}",
    "",
    "# 3. A dehydrated organisation needs Enable-OrganizationCustomization once before a role group",
    "#    or a role assignment can be created. It cannot be undone; Exchange can take up to 48 hours",
    "#    to apply it: if step 5 then asks for it, wait and run this script again.",
    "if ((Get-OrganizationConfig).IsDehydrated) {",
    "  try { Enable-OrganizationCustomization } catch {",
    "    if (\"$_\" -notmatch 'already enabled|not required') { throw }",
    "  }",
    "  Write-Host 'Enabled organisation customization (Enable-OrganizationCustomization).'",
    "}",
    "function Assert-Hydrated($err) {",
    "  if (\"$err\" -match 'Enable-OrganizationCustomization|DehydratedContext') {",
    "    throw 'Exchange is still applying Enable-OrganizationCustomization (up to 48 hours). Run this script again later; nothing else is needed.'",
    "  }",
    "  throw $err",
    "}",
    "",
    "# 4. The service principal in Exchange Online, read back (New-ServicePrincipal does not check its input).",
    "$exoSp = Get-ServicePrincipal -Identity $ServicePrincipalObjectId -ErrorAction SilentlyContinue",
    "if (-not $exoSp) {",
    "  try {",
    "    New-ServicePrincipal -AppId $AppId -ObjectId $ServicePrincipalObjectId -DisplayName 'Journal onboarding app' | Out-Null",
    "  } catch { Assert-Hydrated $_ }",
    "  $exoSp = Get-ServicePrincipal -Identity $ServicePrincipalObjectId",
    '  Write-Host "Registered service principal $ServicePrincipalObjectId in Exchange Online."',
    "}",
    'if ("$($exoSp.AppId)" -ne $AppId) {',
    '  throw "The service principal $ServicePrincipalObjectId in Exchange Online belongs to app $($exoSp.AppId), not $($AppId): check -ServicePrincipalObjectId."',
    "}",
    "",
    "# 5. The role group with exactly the needed roles.",
    "$group = Get-RoleGroup -Identity $RoleGroupName -ErrorAction SilentlyContinue",
    "if (-not $group) {",
    "  try {",
    "    $group = New-RoleGroup -Name $RoleGroupName -Roles $Roles -Description 'Journal onboarding service: least-privilege roles for its app.'",
    "  } catch { Assert-Hydrated $_ }",
    '  Write-Host "Created role group $RoleGroupName."',
    "} else {",
    "  foreach ($role in $Roles) {",
    "    if (-not (Get-ManagementRoleAssignment -Role $role -RoleAssignee $RoleGroupName -ErrorAction SilentlyContinue)) {",
    "      try {",
    "        New-ManagementRoleAssignment -Role $role -SecurityGroup $RoleGroupName | Out-Null",
    "      } catch { Assert-Hydrated $_ }",
    '      Write-Host "Added role $role to $RoleGroupName."',
    "    }",
    "  }",
    '  $extra = @($group.Roles | ForEach-Object { "$_" } | Where-Object { $Roles -notcontains $_ })',
    "  if ($extra.Count -gt 0) { Write-Warning \"$RoleGroupName also holds roles the app does not need: $($extra -join ', ')\" }",
    "}",
    "",
    "# 6. The app as a member of the role group (already a member: nothing to do).",
    '$members = @(Get-RoleGroupMember -Identity $RoleGroupName | ForEach-Object { "$($_.Identity)" })',
    'if ($members -notcontains "$($exoSp.Identity)") {',
    "  try {",
    "    Add-RoleGroupMember -Identity $RoleGroupName -Member $exoSp.Identity",
    '    Write-Host "Added the app to $RoleGroupName."',
    "  } catch {",
    "    if (\"$_\" -notmatch 'already a member') { throw }",
    "  }",
    "}",
    "",
    'Write-Host "Done. Role assignments can take up to an hour to reach Exchange Online; then retry the tenant."',
    "",
  ];
  return lines.join("\n");
}
