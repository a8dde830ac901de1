/**
 * Provider profiles: everything that is specific to the email-security provider, as data.
 * Adding a provider means adding a profile here, nothing else.
 */

export type Region = "us" | "eu";
export type RegionMode = Region | "split";

export interface RegionProfile {
  /** Where journal reports go; `{customer}` is the provider's customer slug. */
  journalAddressTemplate: string;
  smartHosts: readonly string[];
  recipientDomain: string;
}

export interface ProviderProfile {
  id: string;
  /** Outbound connector name; split mode suffixes the EU one with ` (EU)`. */
  connectorName: string;
  journalRuleName: string;
  regions: Readonly<Record<Region, RegionProfile>>;
}

export const AREA1: ProviderProfile = {
  id: "area1",
  connectorName: "Deliver journal directly to Area 1",
  journalRuleName: "Journal Messages to CloudflareArea 1",
  regions: {
    us: {
      journalAddressTemplate: "{customer}@journaling.mxrecord.io",
      smartHosts: ["mailstream-east.mxrecord.io", "mailstream-west.mxrecord.io"],
      recipientDomain: "journaling.mxrecord.io",
    },
    eu: {
      journalAddressTemplate: "{customer}@mailstream-eu.journaling.mxrecord.io",
      smartHosts: ["mailstream-eu1.mxrecord.io"],
      recipientDomain: "mailstream-eu.journaling.mxrecord.io",
    },
  },
};

export const PROVIDERS: Readonly<Record<string, ProviderProfile>> = { area1: AREA1 };
export const DEFAULT_PROVIDER = AREA1;

export function journalAddress(profile: ProviderProfile, region: Region, customerName: string): string {
  return profile.regions[region].journalAddressTemplate.replace("{customer}", customerName);
}

/** The regions a tenant journals to. */
export function regionsOf(mode: RegionMode): Region[] {
  return mode === "split" ? ["eu", "us"] : [mode];
}

/** Name of an object (connector or journal rule) for a region; split mode tags each one. */
export function nameFor(base: string, mode: RegionMode, region: Region, kind: "connector" | "rule"): string {
  if (mode !== "split") return base;
  // The split connectors are "<name>" (US) and "<name> (EU)"; the rules are both tagged.
  if (kind === "connector") return region === "eu" ? `${base} (EU)` : base;
  return `${base} (${region.toUpperCase()})`;
}
