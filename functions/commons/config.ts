/**
 * Environment configuration (SPEC section 4), read once. The Lambda functions get their
 * values from the stack; the local runtime sets the same variables before importing them.
 */
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
    exchange: "https://webmail.apps.mil",
  },
  china: {
    authorityHost: "https://login.chinacloudapi.cn",
    graph: "https://microsoftgraph.chinacloudapi.cn",
    exchange: "https://partner.outlook.cn",
  },
};
