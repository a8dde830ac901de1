/**
 * `npx onboarding doctor`: proves the product's assumptions about Exchange Online on one real
 * tenant, in minutes. With the app's credentials (the service's own M365_* variables) and a
 * tenant id it checks, read-only by default: the credential kind, tokens, Graph, the permission
 * preflight, every read cmdlet, the role of each cmdlet (`Get-ManagementRole -Cmdlet`), and the
 * answer shapes behind the "assumed" rows of docs/m365-fidelity.md. `--write-test` also creates,
 * validates and removes uniquely named objects (a disabled connector to a non-delivering host,
 * a disabled journal rule, an empty group), records their shapes and checks nothing is left.
 *
 * The report (Markdown and JSON) lists every assumed row as confirmed, refuted or unknown, with
 * the raw answers (tokens and e-mail addresses removed), and compares each answer's shape with
 * the simulator's (docs/doctor-baseline.json, `npm run doctor:baseline`).
 */

import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { ExchangeClient } from "../adapters/m365/exchange-client.ts";
import { type CallOptions, RetryPolicy } from "../adapters/m365/retry.ts";
import { TokenProvider } from "../adapters/m365/tokens.ts";
import { PUBLIC_AUTHORITY_HOSTS, readM365AppConfig, resolveM365Endpoints } from "../commons/config.ts";
import { NotFoundError, OnboardingError } from "../domain/errors.ts";
import { CMDLET_ROLES, missingPermissions, requiredCmdlets } from "../domain/permissions.ts";
import type { RegionMode } from "../domain/provider.ts";
import { ADMIN_SETUP_REASONS, probeAdminSetup } from "./doctor-admin-setup.ts";

export type CheckStatus = "pass" | "warn" | "fail" | "skip";
export type RowVerdict = "confirmed" | "refuted" | "unknown";

export interface DoctorCheck {
  id: string;
  title: string;
  status: CheckStatus;
  detail: string;
}

/** One answer Exchange or Graph gave: its shape (for the baseline) and its redacted body. */
export interface Observation {
  key: string;
  request: string;
  status: number;
  /** Property names and JSON types of the first rows, or the error's exception type. */
  shape: Shape;
  body: string;
}

export interface Shape {
  properties?: Record<string, string>;
  rows?: number;
  error?: { status: number; exceptionType?: string; pattern?: string };
}

export interface RowResult {
  id: string;
  title: string;
  verdict: RowVerdict;
  detail: string;
  evidence: string[];
}

export interface DoctorReport {
  generatedAt: string;
  tenantId: string;
  mode: { region: RegionMode; outboundGateway: boolean };
  writeTest: boolean;
  target: { authorityHost: string; graph: string; exchange: string };
  checks: DoctorCheck[];
  rows: RowResult[];
  observations: Observation[];
  /** Shape differences from the simulator's baseline, per observation key. */
  baseline: { key: string; verdict: "same" | "differs" | "no-baseline"; detail: string }[];
  ok: boolean;
}

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  tenantId: string;
  writeTest?: boolean;
  mode?: { region: RegionMode; outboundGateway: boolean };
  /** Progress lines (stderr). */
  log?: (line: string) => void;
  /** docs/m365-fidelity.md and the baseline; defaults to the repository's files. */
  fidelityMarkdown?: string;
  baseline?: Record<string, Shape>;
  fetch?: typeof fetch;
  /** With it, the least-privilege setup's probe (A7-A12) as an admin who signs in once. */
  adminSignIn?: (authorizeUrl: string) => Promise<string>;
}

/** Exchange gives a cmdlet 15 minutes; validation connects to the host and sends a message (never re-sent). */
const SLOW: Readonly<Record<string, CallOptions>> = {
  "Validate-OutboundConnector": { timeoutMs: 540_000, resend: "if-not-processed" },
  "New-DistributionGroup": { timeoutMs: 120_000 },
};

const REPO_FILE = (path: string) => new URL(`../../${path}`, import.meta.url);

/** The ids and titles of docs/m365-fidelity.md's "Assumed rows" section. */
export function assumedRows(markdown: string): { id: string; title: string }[] {
  const section = markdown.split(/^## Assumed rows\s*$/m)[1] ?? "";
  return [...section.matchAll(/^- \*\*([A-Z]\d+)\*\* ([^.(]+)/gm)].map((m) => ({
    id: m[1]!,
    title: m[2]!.trim(),
  }));
}

const EMAIL = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g;
const JWT = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

/** Removes tokens and e-mail addresses (the report may be attached to a public bug). */
export function redact(text: string): string {
  return text.replace(JWT, "<token>").replace(EMAIL, "<address>");
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function shapeOfRows(rows: readonly Record<string, unknown>[]): Shape {
  const properties: Record<string, string> = {};
  for (const row of rows.slice(0, 5)) {
    for (const [k, v] of Object.entries(row)) {
      const t = typeOf(v);
      const prev = properties[k];
      properties[k] =
        prev === undefined || prev === t ? t : prev === "null" ? t : t === "null" ? prev : `${prev}|${t}`;
    }
  }
  return { properties: Object.fromEntries(Object.entries(properties).sort()), rows: rows.length };
}

/** What a recorded answer looked like; the fetch wrapper fills it. */
interface Recorded {
  url: string;
  method: string;
  status: number;
  body: string;
}

/** Runs every check; never changes the tenant unless `writeTest`. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  const log = options.log ?? (() => undefined);
  const mode = options.mode ?? { region: "split" as RegionMode, outboundGateway: true };
  const checks: DoctorCheck[] = [];
  const observations: Observation[] = [];
  const check = (id: string, title: string, status: CheckStatus, detail: string) => {
    checks.push({ id, title, status, detail });
    log(`${status.toUpperCase().padEnd(4)} ${title}${detail ? `: ${detail}` : ""}`);
  };
  const tenantId = options.tenantId.toLowerCase();

  // ---- configuration and credential --------------------------------------------------------
  const app = readM365AppConfig(options.env);
  if (!app)
    throw new Error(
      "doctor needs the app's credentials: M365_CLIENT_ID with M365_CLIENT_CERTIFICATE_PATH (or M365_CLIENT_SECRET)",
    );
  const { endpoints, explicitAuthorityHost } = resolveM365Endpoints(options.env);
  if (app.clientCertificatePath) {
    check("credential", "App credential", "pass", "certificate (the documented way for Exchange app-only)");
  } else {
    check(
      "credential",
      "App credential",
      "warn",
      "a client secret: Microsoft documents certificates for Exchange app-only; use M365_CLIENT_CERTIFICATE_PATH in production (docs/real-tenant.md)",
    );
  }

  const recorded: Recorded[] = [];
  const baseFetch = options.fetch ?? fetch;
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await baseFetch(input, init);
    const body = await res.clone().text();
    recorded.push({ url: String(input), method: init?.method ?? "GET", status: res.status, body });
    return res;
  };
  const tokens = new TokenProvider({
    clientId: app.clientId,
    credential: app.clientCertificatePath
      ? { certificatePath: app.clientCertificatePath }
      : { clientSecret: app.clientSecret! },
    authorityHost: endpoints.authorityHost,
    disableInstanceDiscovery:
      explicitAuthorityHost || !PUBLIC_AUTHORITY_HOSTS.includes(endpoints.authorityHost),
  });
  const exchange = new ExchangeClient({
    endpoint: endpoints.exchange,
    tokens,
    retry: new RetryPolicy({ maxAttempts: 2, baseDelayMs: 200, maxDelayMs: 2_000 }),
    fetch: recordingFetch,
  });

  const observe = (key: string, request: string, fallback?: { status: number; error: unknown }) => {
    const last = recorded.at(-1);
    const status = last?.status ?? fallback?.status ?? 0;
    let shape: Shape;
    if (last && status >= 200 && status < 300) {
      let rows: Record<string, unknown>[] = [];
      try {
        const json = JSON.parse(last.body) as { value?: unknown };
        rows = Array.isArray(json.value)
          ? (json.value as Record<string, unknown>[])
          : json.value
            ? [json.value as Record<string, unknown>]
            : [json as Record<string, unknown>];
      } catch {
        rows = [];
      }
      shape = shapeOfRows(rows);
    } else {
      const exceptionType =
        /\|([A-Za-z.]+Exception)\|/.exec(last?.body ?? "")?.[1] ??
        /"type"\s*:\s*"([^"]+)"/.exec(last?.body ?? "")?.[1];
      shape = { error: { status, ...(exceptionType ? { exceptionType } : {}) } };
    }
    const o: Observation = {
      key,
      request,
      status,
      shape,
      body: redact(last?.body ?? String(fallback?.error ?? "")).slice(0, 20_000),
    };
    observations.push(o);
    return o;
  };
  const run = async (key: string, cmdlet: string, parameters: Record<string, unknown> = {}) => {
    const request = `${cmdlet} ${Object.entries(parameters)
      .map(([k, v]) => `-${k} ${JSON.stringify(v)}`)
      .join(" ")}`.trim();
    try {
      const rows = await exchange.invoke(tenantId, cmdlet, parameters, SLOW[cmdlet] ?? {});
      return { rows, observation: observe(key, redact(request)) };
    } catch (error) {
      return { error, observation: observe(key, redact(request), { status: 0, error }) };
    }
  };

  // ---- tokens and Graph --------------------------------------------------------------------
  let tokensOk = true;
  for (const [name, resource] of [
    ["Exchange", endpoints.exchange],
    ["Graph", endpoints.graph],
  ] as const) {
    try {
      await tokens.getToken(tenantId, resource);
      check(`token-${name.toLowerCase()}`, `${name} token`, "pass", resource);
    } catch (err) {
      tokensOk = false;
      check(`token-${name.toLowerCase()}`, `${name} token`, "fail", describe(err));
    }
  }
  if (tokensOk) {
    try {
      const token = await tokens.getToken(tenantId, endpoints.graph);
      const res = await recordingFetch(`${endpoints.graph}/v1.0/organization`, {
        headers: { authorization: `Bearer ${token}`, accept: "application/json" },
      });
      const o = observe("graph:organization", "GET /v1.0/organization");
      check("graph", "Graph GET /organization", res.ok ? "pass" : "fail", `HTTP ${o.status}`);
    } catch (err) {
      check("graph", "Graph GET /organization", "fail", describe(err));
    }
  }

  // ---- permission preflight ----------------------------------------------------------------
  let available: string[] | undefined;
  if (tokensOk) {
    try {
      available = await exchange.availableCmdlets(tenantId);
      observe("EXOModuleFile", "GET EXOModuleFile (CommandName: *)");
      if (!available) {
        check(
          "preflight",
          "Permission preflight (EXOModuleFile)",
          "warn",
          "no exportedCmdlets in the answer: the service skips the preflight",
        );
      } else {
        const missing = missingPermissions(requiredCmdlets(mode), available);
        check(
          "preflight",
          "Permission preflight (EXOModuleFile)",
          missing.length === 0 ? "pass" : "fail",
          missing.length === 0
            ? `all ${requiredCmdlets(mode).length} cmdlets of ${mode.region}${mode.outboundGateway ? " with connector" : ""} allowed (${available.length} listed)`
            : `missing: ${missing.map((m) => `${m.cmdlet} (${m.role})`).join(", ")}`,
        );
      }
    } catch (err) {
      observe("EXOModuleFile", "GET EXOModuleFile (CommandName: *)", { status: 0, error: err });
      check("preflight", "Permission preflight (EXOModuleFile)", "fail", describe(err));
    }
  }

  // ---- reads -------------------------------------------------------------------------------
  const reads: Record<string, Awaited<ReturnType<typeof run>>> = {};
  if (tokensOk) {
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
    ];
    for (const [key, cmdlet, params] of readList) {
      reads[key] = await run(key, cmdlet, params);
      const r = reads[key]!;
      const expectedAbsent = key === "Get-Recipient:absent" && r.error instanceof NotFoundError;
      check(
        `read:${key}`,
        key,
        r.error && !expectedAbsent ? "fail" : "pass",
        r.error && !expectedAbsent
          ? describe(r.error)
          : `${r.rows?.length ?? 0} rows${expectedAbsent ? " (not found, as expected)" : ""}`,
      );
    }
    const group = reads["Get-DistributionGroup"]?.rows?.[0];
    const groupId =
      typeof group?.["Identity"] === "string"
        ? group["Identity"]
        : typeof group?.["Name"] === "string"
          ? group["Name"]
          : undefined;
    if (groupId) {
      reads["Get-DistributionGroupMember"] = await run(
        "Get-DistributionGroupMember",
        "Get-DistributionGroupMember",
        { Identity: groupId, ResultSize: 10 },
      );
      const r = reads["Get-DistributionGroupMember"]!;
      check(
        "read:Get-DistributionGroupMember",
        "Get-DistributionGroupMember",
        r.error ? "fail" : "pass",
        r.error ? describe(r.error) : `${r.rows?.length ?? 0} rows`,
      );
    }
    // The role of every cmdlet the product runs (A3).
    const roleRows: string[] = [];
    let roleFailures = 0;
    for (const cmdlet of Object.keys(CMDLET_ROLES)) {
      const r = await run(`Get-ManagementRole:${cmdlet}`, "Get-ManagementRole", { Cmdlet: cmdlet });
      if (r.error) {
        roleFailures++;
        continue;
      }
      const roles = (r.rows ?? []).map((x) => String(x["Name"] ?? x["Identity"] ?? ""));
      roleRows.push(`${cmdlet}: ${roles.join(", ")}`);
      reads[`role:${cmdlet}`] = r;
    }
    check(
      "roles",
      "Get-ManagementRole -Cmdlet (each cmdlet's roles)",
      roleFailures === 0 ? "pass" : "warn",
      roleFailures === 0
        ? `${roleRows.length} cmdlets`
        : `${roleFailures} not readable (the app may lack a role that reads RBAC)`,
    );
    // A cmdlet outside the app's roles, when there is one: the answer's form (R8).
    if (available && !available.some((c) => c.toLowerCase() === "get-mailbox")) {
      reads["denied"] = await run("denied:Get-Mailbox", "Get-Mailbox", { ResultSize: 1 });
    }
  }

  // ---- write test --------------------------------------------------------------------------
  const writes: Record<string, Awaited<ReturnType<typeof run>>> = {};
  if (options.writeTest && tokensOk) {
    const id = `doctor-${randomBytes(4).toString("hex")}`;
    const host = `${id}.journal-onboarding.invalid`;
    const connectorName = `Journal onboarding doctor ${id}`;
    const ruleName = `Journal onboarding doctor ${id}`;
    const defaultDomain = String(
      reads["Get-AcceptedDomain"]?.rows?.find((d) => d["Default"] === true || d["Default"] === "True")?.[
        "DomainName"
      ] ?? "",
    );
    log(`write test: objects named ${id}`);
    writes["New-OutboundConnector"] = await run("New-OutboundConnector", "New-OutboundConnector", {
      Name: connectorName,
      Comment: "journal onboarding doctor: safe to delete",
      ConnectorType: "Partner",
      RecipientDomains: [host],
      SmartHosts: [host],
      UseMXRecord: false,
      TlsSettings: "CertificateValidation",
      Enabled: false,
    });
    if (!writes["New-OutboundConnector"].error) {
      writes["Get-OutboundConnector:new"] = await run("Get-OutboundConnector:new", "Get-OutboundConnector", {
        Identity: connectorName,
      });
      writes["Validate-OutboundConnector"] = await run(
        "Validate-OutboundConnector",
        "Validate-OutboundConnector",
        {
          Identity: connectorName,
          Recipients: [`doctor@${host}`],
        },
      );
      writes["Remove-OutboundConnector"] = await run("Remove-OutboundConnector", "Remove-OutboundConnector", {
        Identity: connectorName,
        Confirm: false,
      });
    }
    const ndr = reads["Get-TransportConfig"]?.rows?.[0]?.["JournalingReportNdrTo"];
    if (typeof ndr === "string" && ndr.includes("@")) {
      writes["New-JournalRule"] = await run("New-JournalRule", "New-JournalRule", {
        Name: ruleName,
        JournalEmailAddress: `doctor@${host}`,
        Scope: "External",
        Enabled: false,
      });
      if (!writes["New-JournalRule"].error) {
        writes["Get-JournalRule:new"] = await run("Get-JournalRule:new", "Get-JournalRule", {
          Identity: ruleName,
        });
        writes["Remove-JournalRule"] = await run("Remove-JournalRule", "Remove-JournalRule", {
          Identity: ruleName,
          Confirm: false,
        });
      }
    } else {
      check(
        "write:journal-rule",
        "Journal rule write test",
        "skip",
        "JournalingReportNdrTo is not set: a rule needs it, and the doctor never sets it (Exchange may refuse to clear it again)",
      );
    }
    if (defaultDomain) {
      writes["New-DistributionGroup"] = await run("New-DistributionGroup", "New-DistributionGroup", {
        Name: id,
        PrimarySmtpAddress: `${id}@${defaultDomain}`,
        Type: "Distribution",
      });
      if (!writes["New-DistributionGroup"].error) {
        writes["Get-DistributionGroup:new"] = await run(
          "Get-DistributionGroup:new",
          "Get-DistributionGroup",
          { Identity: id },
        );
        writes["Get-DistributionGroupMember:new"] = await run(
          "Get-DistributionGroupMember:new",
          "Get-DistributionGroupMember",
          { Identity: id, ResultSize: "Unlimited" },
        );
        writes["Remove-DistributionGroup"] = await run(
          "Remove-DistributionGroup",
          "Remove-DistributionGroup",
          {
            Identity: id,
            BypassSecurityGroupManagerCheck: true,
            Confirm: false,
          },
        );
      }
    }
    for (const key of [
      "New-OutboundConnector",
      "Remove-OutboundConnector",
      "New-JournalRule",
      "Remove-JournalRule",
      "New-DistributionGroup",
      "Remove-DistributionGroup",
    ]) {
      const w = writes[key];
      if (w) check(`write:${key}`, key, w.error ? "fail" : "pass", w.error ? describe(w.error) : "done");
    }
    // Nothing left behind.
    const left: string[] = [];
    for (const [cmdlet, identity] of [
      ["Get-OutboundConnector", connectorName],
      ["Get-JournalRule", ruleName],
      ["Get-DistributionGroup", id],
    ] as const) {
      try {
        const rows = await exchange.invoke(tenantId, cmdlet, { Identity: identity });
        if (rows.length > 0) left.push(`${cmdlet} ${identity}`);
      } catch (err) {
        if (!(err instanceof NotFoundError)) left.push(`${cmdlet} ${identity} (${describe(err)})`);
      }
    }
    check(
      "write:cleanup",
      "Nothing left behind",
      left.length === 0 ? "pass" : "fail",
      left.length === 0 ? `no object named ${id} remains` : `still there: ${left.join("; ")}`,
    );
  }

  // ---- verdicts on the assumed rows --------------------------------------------------------
  const fidelity =
    options.fidelityMarkdown ?? (await readFile(REPO_FILE("docs/m365-fidelity.md"), "utf8").catch(() => ""));
  const baseline = options.baseline ?? (await loadBaseline());
  const admin = options.adminSignIn
    ? await probeAdminSetup({
        ...options,
        writeTest: options.writeTest === true,
        mode,
        signIn: options.adminSignIn,
      })
    : undefined;
  for (const c of admin?.checks ?? []) check(c.id, c.title, c.status, c.detail);
  const rows = assumedRows(fidelity).map((row) =>
    admin?.rows[row.id]
      ? { ...row, ...admin.rows[row.id]! }
      : verdictFor(row, { reads, writes, available, writeTest: options.writeTest === true }),
  );
  if (!fidelity)
    check("fidelity", "docs/m365-fidelity.md", "warn", "not found: the report cannot list the assumed rows");

  const baselineResults = observations.map((o) => compareShape(o, baseline[o.key]));
  return {
    generatedAt: new Date().toISOString(),
    tenantId,
    mode,
    writeTest: options.writeTest === true,
    target: endpoints,
    checks,
    rows,
    observations,
    baseline: baselineResults,
    ok: checks.every((c) => c.status !== "fail"),
  };
}

type Evidence = {
  reads: Record<string, { rows?: Record<string, unknown>[]; error?: unknown; observation: Observation }>;
  writes: Record<string, { rows?: Record<string, unknown>[]; error?: unknown; observation: Observation }>;
  available: string[] | undefined;
  writeTest: boolean;
};

/** Each assumed row that reads (or the write test) can settle; the rest are `unknown` with the reason. */
function verdictFor(row: { id: string; title: string }, e: Evidence): RowResult {
  const result = (verdict: RowVerdict, detail: string, evidence: string[] = []): RowResult => ({
    ...row,
    verdict,
    detail,
    evidence,
  });
  const needsWrite = "needs --write-test in a test tenant";
  switch (row.id) {
    case "E9": {
      if (e.available === undefined)
        return result("unknown", "EXOModuleFile gave no exportedCmdlets (or failed)", ["EXOModuleFile"]);
      const reads = ["Get-TransportConfig", "Get-AcceptedDomain", "Get-JournalRule"];
      const readsWorked = reads.every((k) => !e.reads[k]?.error);
      const listed = reads.every((c) => e.available!.some((a) => a.toLowerCase() === c.toLowerCase()));
      return readsWorked === listed
        ? result(
            "confirmed",
            `exportedCmdlets lists ${e.available.length} cmdlets, consistent with what the reads could run`,
            ["EXOModuleFile"],
          )
        : result("refuted", "exportedCmdlets disagrees with what the app could run", [
            "EXOModuleFile",
            ...reads,
          ]);
    }
    case "R8": {
      const d = e.reads["denied"];
      if (!d)
        return result(
          "unknown",
          "the app may run every cmdlet probed (Exchange Administrator?): no refusal to observe",
        );
      const text = d.observation.body;
      return /is not recognized as|not allowed to call|CommandNotFoundException/i.test(text)
        ? result(
            "confirmed",
            `a cmdlet outside the roles answered HTTP ${d.observation.status} with a text we classify as M365_PERMISSION_MISSING`,
            ["denied:Get-Mailbox"],
          )
        : result(
            "refuted",
            `a cmdlet outside the roles answered HTTP ${d.observation.status} with a text we do not classify`,
            ["denied:Get-Mailbox"],
          );
    }
    case "A3": {
      const checked = Object.entries(CMDLET_ROLES).filter(([c]) => e.reads[`role:${c}`]);
      if (checked.length === 0) return result("unknown", "Get-ManagementRole -Cmdlet was not readable");
      const wrong = checked.filter(
        ([c, role]) =>
          !(e.reads[`role:${c}`]?.rows ?? []).some((r) => String(r["Name"] ?? r["Identity"]) === role),
      );
      return wrong.length === 0
        ? result(
            "confirmed",
            `each of ${checked.length} cmdlets is held by the role we name`,
            checked.map(([c]) => `Get-ManagementRole:${c}`),
          )
        : result(
            "refuted",
            `not held by the role we name: ${wrong.map(([c, r]) => `${c} (${r})`).join(", ")}`,
            wrong.map(([c]) => `Get-ManagementRole:${c}`),
          );
    }
    case "P1": {
      const r = e.reads["Get-AcceptedDomain"];
      if (!r || r.error) return result("unknown", "Get-AcceptedDomain failed");
      const p = r.observation.shape.properties ?? {};
      return "DomainName" in p && "DomainType" in p && "Default" in p
        ? result(
            "confirmed",
            `DomainName (${p["DomainName"]}), DomainType (${p["DomainType"]}), Default (${p["Default"]})`,
            ["Get-AcceptedDomain"],
          )
        : result("refuted", `properties: ${Object.keys(p).join(", ")}`, ["Get-AcceptedDomain"]);
    }
    case "G4": {
      const r = e.reads["Get-DistributionGroupMember"];
      if (!r || r.error || (r.rows ?? []).length === 0)
        return result("unknown", "no distribution group with members to read");
      const p = r.observation.shape.properties ?? {};
      const names = [
        "Guid",
        "Identity",
        "Name",
        "Alias",
        "PrimarySmtpAddress",
        "RecipientTypeDetails",
        "EmailAddresses",
      ];
      const absent = names.filter((n) => !(n in p));
      return absent.length === 0
        ? result("confirmed", `members carry ${names.join(", ")}`, ["Get-DistributionGroupMember"])
        : result("refuted", `members lack ${absent.join(", ")}`, ["Get-DistributionGroupMember"]);
    }
    case "G2": {
      if (!e.writeTest) return result("unknown", needsWrite);
      const w = e.writes["Get-DistributionGroup:new"];
      if (!w || w.error)
        return result(
          e.writes["New-DistributionGroup"]?.error ? "refuted" : "unknown",
          "the group could not be created without ManagedBy, or not read back",
          ["New-DistributionGroup"],
        );
      return result(
        "confirmed",
        `created app-only without ManagedBy; ManagedBy reads ${JSON.stringify(redact(JSON.stringify(w.rows?.[0]?.["ManagedBy"] ?? null)))}`,
        ["New-DistributionGroup", "Get-DistributionGroup:new"],
      );
    }
    case "O12": {
      if (!e.writeTest) return result("unknown", needsWrite);
      const w = e.writes["Validate-OutboundConnector"];
      if (!w) return result("unknown", "the connector could not be created");
      if (w.error)
        return result(
          "refuted",
          `validation of a non-delivering host answered an error (HTTP ${w.observation.status}), not failed task rows`,
          ["Validate-OutboundConnector"],
        );
      const p = w.observation.shape.properties ?? {};
      return "TaskName" in p && "IsTaskSuccessful" in p
        ? result("confirmed", `rows carry TaskName and IsTaskSuccessful (${p["IsTaskSuccessful"]})`, [
            "Validate-OutboundConnector",
          ])
        : result("refuted", `rows carry ${Object.keys(p).join(", ")}`, ["Validate-OutboundConnector"]);
    }
    case "A2":
      return result(
        "unknown",
        "checked by running the permissions script (docs/real-tenant.md), not by the app",
      );
    case "A4":
    case "A5":
      return result(
        "unknown",
        "needs an app without that role; run the doctor again with the role group only",
      );
    default:
      return result(
        "unknown",
        REASONS[row.id] ??
          ADMIN_SETUP_REASONS[row.id] ??
          "needs a fault, a write or a timing that a read cannot produce",
      );
  }
}

const REASONS: Readonly<Record<string, string>> = {
  E7: "Exchange must choose to answer a 200 with @adminapi.errors; a read cannot provoke it",
  T4: "needs a tenant of another cloud reached through these endpoints",
  T6: "needs a tenant that never consented",
  R3: "needs a gateway timeout",
  R4: "needs a revoked or expired token",
  R5: "needs more concurrent requests than the tenant allows (not provoked on purpose)",
  R6: "needs a directory fault",
  R7: "timings of Validate-OutboundConnector and large groups: see the write test's durations",
  O13: "needs --write-test and the validation right after creation (timing)",
  C3: "needs a write of JournalingReportNdrTo, which the doctor never makes (Exchange may refuse to clear it)",
  J9: "needs a journal rule on the NDR mailbox; not created by the doctor",
  G8: "needs a group with a member to remove",
  G9: "needs a sustained stream of member adds",
  D3: "needs a dehydrated organisation",
  D4: "needs a dehydrated organisation",
  O5: "needs writes with invalid smart hosts",
  O6: "needs writes with TlsDomain",
  N4: "needs a 21Vianet tenant",
};

function compareShape(o: Observation, base: Shape | undefined): DoctorReport["baseline"][number] {
  if (!base) return { key: o.key, verdict: "no-baseline", detail: "the simulator has no answer for this" };
  if (base.error || o.shape.error) {
    const same =
      base.error?.status === o.shape.error?.status &&
      base.error?.exceptionType === o.shape.error?.exceptionType;
    return {
      key: o.key,
      verdict: same ? "same" : "differs",
      detail: `simulator ${JSON.stringify(base.error ?? "ok")}, tenant ${JSON.stringify(o.shape.error ?? "ok")}`,
    };
  }
  const a = base.properties ?? {};
  const b = o.shape.properties ?? {};
  // Rows may be absent on either side (an empty tenant): compare only when both have rows.
  if ((base.rows ?? 0) === 0 || (o.shape.rows ?? 0) === 0)
    return { key: o.key, verdict: "same", detail: "no rows to compare" };
  const missing = Object.keys(a).filter((k) => !(k in b));
  const typed = Object.keys(a).filter((k) => k in b && a[k] !== b[k] && a[k] !== "null" && b[k] !== "null");
  const detail = [
    missing.length ? `the tenant lacks ${missing.join(", ")}` : "",
    typed.length ? `types differ: ${typed.map((k) => `${k} ${a[k]} vs ${b[k]}`).join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
  return {
    key: o.key,
    verdict: detail ? "differs" : "same",
    detail: detail || "every property the simulator answers is there, with its type",
  };
}

async function loadBaseline(): Promise<Record<string, Shape>> {
  try {
    return (
      JSON.parse(await readFile(REPO_FILE("docs/doctor-baseline.json"), "utf8")) as {
        shapes: Record<string, Shape>;
      }
    ).shapes;
  } catch {
    return {};
  }
}

/** The baseline file's content from a report (`npm run doctor:baseline` runs it on the simulator). */
export function baselineOf(report: DoctorReport): { generatedFrom: string; shapes: Record<string, Shape> } {
  const shapes: Record<string, Shape> = {};
  for (const o of [...report.observations].sort((x, y) => x.key.localeCompare(y.key))) {
    if (o.key.startsWith("denied:")) continue;
    shapes[o.key] = o.shape.error
      ? { error: o.shape.error }
      : { properties: o.shape.properties ?? {}, rows: Math.min(o.shape.rows ?? 0, 1) };
  }
  return { generatedFrom: "the Microsoft 365 simulator (npm run doctor:baseline)", shapes };
}

function describe(err: unknown): string {
  if (err instanceof OnboardingError) return `${err.code}: ${redact(err.message).slice(0, 300)}`;
  return redact(err instanceof Error ? err.message : String(err)).slice(0, 300);
}

/** The report as Markdown, for a person and for a bug report. */
export function renderDoctorMarkdown(r: DoctorReport): string {
  const esc = (s: string) => s.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
  const lines = [
    "# Journal onboarding doctor report",
    "",
    `- Generated: ${r.generatedAt}`,
    `- Tenant: ${r.tenantId}`,
    `- Endpoints: ${r.target.authorityHost}, ${r.target.graph}, ${r.target.exchange}`,
    `- Mode checked: ${r.mode.region}${r.mode.outboundGateway ? " with outbound connector" : ""}; write test: ${r.writeTest ? "yes" : "no (read-only)"}`,
    `- Result: ${r.ok ? "**ok**" : "**problems found**"}`,
    "",
    "## Checks",
    "",
    "| check | status | detail |",
    "|---|---|---|",
    ...r.checks.map((c) => `| ${esc(c.title)} | ${c.status} | ${esc(c.detail)} |`),
    "",
    "## Assumed rows of docs/m365-fidelity.md",
    "",
    "| row | behaviour | verdict | detail |",
    "|---|---|---|---|",
    ...r.rows.map((x) => `| ${x.id} | ${esc(x.title)} | ${x.verdict} | ${esc(x.detail)} |`),
    "",
    "## Answer shapes compared with the simulator",
    "",
    "| answer | verdict | detail |",
    "|---|---|---|",
    ...r.baseline.map((b) => `| ${esc(b.key)} | ${b.verdict} | ${esc(b.detail)} |`),
    "",
    "## Raw answers (tokens and e-mail addresses removed)",
    "",
    ...r.observations.flatMap((o) => [
      `### ${o.key}`,
      "",
      `\`${o.request}\` -> HTTP ${o.status}`,
      "",
      "```json",
      o.body.slice(0, 4_000),
      "```",
      "",
    ]),
  ];
  return `${lines.join("\n")}\n`;
}
