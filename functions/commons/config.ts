/**
 * Environment configuration (the variables of README.md), read once. The Lambda functions get their
 * values from the stack; the local runtime sets the same variables before importing them.
 */
/** The client id the stack's secret starts with, until the operator fills in the real one. */
export const M365_CLIENT_ID_PLACEHOLDER = "REPLACE_WITH_APPLICATION_CLIENT_ID";

export type M365Cloud = "global" | "usgovhigh" | "usgovdod" | "china";

export interface M365Endpoints {
  authorityHost: string;
  graph: string;
  exchange: string;
}

/** Public endpoints per national cloud. */
export const M365_CLOUDS: Readonly<Record<M365Cloud, M365Endpoints>> = {
  global: {
    authorityHost: "https://login.microsoftonline.com",
    graph: "https://graph.microsoft.com",
    exchange: "https://outlook.office365.com",
  },
  usgovhigh: {
    authorityHost: "https://login.microsoftonline.us",
    graph: "https://graph.microsoft.us",
    exchange: "https://outlook.office365.us",
  },
  usgovdod: {
    authorityHost: "https://login.microsoftonline.us",
    graph: "https://dod-graph.microsoft.us",
    // The host (and token scope) that public tools use for DoD Exchange Online app-only access.
    exchange: "https://outlook-dod.office365.us",
  },
  china: {
    authorityHost: "https://login.chinacloudapi.cn",
    graph: "https://microsoftgraph.chinacloudapi.cn",
    exchange: "https://partner.outlook.cn",
  },
};

/** Authority hosts of the public clouds: anything else is a private or simulated authority. */
export const PUBLIC_AUTHORITY_HOSTS: readonly string[] = [
  ...new Set(Object.values(M365_CLOUDS).map((e) => e.authorityHost)),
];

export interface ResolvedM365Endpoints {
  cloud: M365Cloud;
  endpoints: M365Endpoints;
  /** An explicit M365_AUTHORITY_HOST was given: MSAL instance discovery must be off. */
  explicitAuthorityHost: boolean;
}

/**
 * The three Microsoft 365 endpoints from `M365_CLOUD` (default `global`), each overridable by
 * `M365_AUTHORITY_HOST`, `M365_GRAPH_ENDPOINT`, `M365_EXCHANGE_ENDPOINT` (https only).
 *
 * @throws Error naming the variable when a value is not allowed.
 */
export function resolveM365Endpoints(env: NodeJS.ProcessEnv = process.env): ResolvedM365Endpoints {
  const cloud = (env.M365_CLOUD?.trim() || "global") as M365Cloud;
  if (!Object.hasOwn(M365_CLOUDS, cloud)) {
    throw new Error(
      `M365_CLOUD must be one of ${Object.keys(M365_CLOUDS).join(", ")}; got "${env.M365_CLOUD}"`,
    );
  }
  const base = M365_CLOUDS[cloud];
  const pick = (name: string, fallback: string): string => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new Error(`${name} must be an https URL; got "${raw}"`);
    }
    if (url.protocol !== "https:" || url.search || url.hash || url.username) {
      throw new Error(`${name} must be a plain https URL (no query, fragment or credentials); got "${raw}"`);
    }
    return url.toString().replace(/\/+$/, "");
  };
  return {
    cloud,
    endpoints: {
      authorityHost: pick("M365_AUTHORITY_HOST", base.authorityHost),
      graph: pick("M365_GRAPH_ENDPOINT", base.graph),
      exchange: pick("M365_EXCHANGE_ENDPOINT", base.exchange),
    },
    explicitAuthorityHost: Boolean(env.M365_AUTHORITY_HOST?.trim()),
  };
}

/** The multi-tenant app's credentials (M365_CLIENT_*); undefined when none is configured. */
export interface M365AppConfig {
  clientId: string;
  clientSecret?: string;
  clientCertificatePath?: string;
  /** Where admin consent sends the admin back (optional `redirect_uri` of the consent URL). */
  consentRedirectUri?: string;
}

/**
 * Reads `M365_CLIENT_ID` with `M365_CLIENT_SECRET` or `M365_CLIENT_CERTIFICATE_PATH`
 * (and the optional `M365_CONSENT_REDIRECT_URI`). Returns undefined when none of them is set
 * (the local runtime then starts the simulator).
 *
 * @throws Error when the set is incomplete.
 */
export function readM365AppConfig(env: NodeJS.ProcessEnv = process.env): M365AppConfig | undefined {
  const clientId = env.M365_CLIENT_ID?.trim();
  const clientSecret = env.M365_CLIENT_SECRET?.trim();
  const clientCertificatePath = env.M365_CLIENT_CERTIFICATE_PATH?.trim();
  if (!clientId && !clientSecret && !clientCertificatePath) return undefined;
  if (!clientId)
    throw new Error("M365_CLIENT_ID is required with M365_CLIENT_SECRET or M365_CLIENT_CERTIFICATE_PATH");
  if (!clientSecret && !clientCertificatePath) {
    throw new Error("M365_CLIENT_ID needs M365_CLIENT_SECRET or M365_CLIENT_CERTIFICATE_PATH");
  }
  const consentRedirectUri = env.M365_CONSENT_REDIRECT_URI?.trim();
  return {
    clientId,
    ...(clientSecret ? { clientSecret } : {}),
    ...(clientCertificatePath ? { clientCertificatePath } : {}),
    ...(consentRedirectUri ? { consentRedirectUri } : {}),
  };
}

/** How long stored records are kept (DynamoDB TTL on `expiresAt`; the local runtime sweeps the same way). */
export interface Retention {
  /** Event items and settled webhook deliveries, from their time. */
  eventDays: number;
  /** An offboarded tenant's record (and its group parts), from its offboarding. */
  offboardedDays: number;
}

export const DEFAULT_RETENTION: Readonly<Retention> = { eventDays: 90, offboardedDays: 30 };

/**
 * `EVENT_RETENTION_DAYS` (default 90) and `OFFBOARDED_RETENTION_DAYS` (default 30): positive
 * numbers of days.
 *
 * @throws Error naming the variable when a value is not a positive number.
 */
export function retentionFromEnv(env: NodeJS.ProcessEnv = process.env): Retention {
  const days = (name: string, fallback: number): number => {
    const raw = env[name]?.trim();
    if (!raw) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0)
      throw new Error(`${name} must be a positive number of days; got "${raw}"`);
    return value;
  };
  return {
    eventDays: days("EVENT_RETENTION_DAYS", DEFAULT_RETENTION.eventDays),
    offboardedDays: days("OFFBOARDED_RETENTION_DAYS", DEFAULT_RETENTION.offboardedDays),
  };
}
