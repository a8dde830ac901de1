/** How the app proves itself at the token endpoint: its secret or a certificate-signed assertion. */
import { constants, timingSafeEqual, verify as verifySignature } from "node:crypto";
import { entraError } from "../http.ts";
import type { SimHost } from "../server.ts";

/** Undefined when the form's secret or assertion is the app's; else the Entra error body. */
export function checkClientCredentials(
  host: SimHost,
  form: URLSearchParams,
  tenantId: string,
  grant = "client_credentials",
): unknown {
  const secret = form.get("client_secret");
  if (secret !== null) {
    const a = Buffer.from(secret);
    const b = Buffer.from(host.settings.clientSecret);
    if (a.length === b.length && timingSafeEqual(a, b)) return undefined;
    return entraError(
      "invalid_client",
      `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${host.settings.clientId}'.`,
      7000215,
    );
  }
  const assertion = form.get("client_assertion");
  if (
    assertion !== null &&
    form.get("client_assertion_type") === "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
  ) {
    const problem = checkAssertion(host, assertion, tenantId);
    return problem === undefined
      ? undefined
      : entraError("invalid_client", problem, Number(problem.slice(6, problem.indexOf(":"))));
  }
  return entraError(
    "invalid_client",
    `AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the '${grant}' grant type.`,
    7000216,
  );
}

function checkAssertion(host: SimHost, assertion: string, tenantId: string): string | undefined {
  const [h, p, s] = assertion.split(".");
  if (!h || !p || !s) return "AADSTS50027: JWT token is invalid or malformed.";
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
    payload = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  } catch {
    return "AADSTS50027: JWT token is invalid or malformed.";
  }
  const sha256 =
    typeof header["x5t#S256"] === "string"
      ? Buffer.from(header["x5t#S256"], "base64url").toString("hex")
      : undefined;
  const sha1 =
    typeof header["x5t"] === "string" ? Buffer.from(header["x5t"], "base64url").toString("hex") : undefined;
  const cert = host.settings.clientCertificates.find((c) => c.sha256 === sha256 || c.sha1 === sha1);
  if (!cert) {
    return `AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '${(sha1 ?? sha256 ?? "").toUpperCase()}']`;
  }
  const pss = header["alg"] === "PS256";
  if (header["alg"] !== "RS256" && !pss)
    return "AADSTS5002730: Invalid JWT token. Unsupported key for the signing algorithm.";
  const valid = verifySignature(
    "sha256",
    Buffer.from(`${h}.${p}`),
    pss ? { key: cert.certPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : cert.certPem,
    Buffer.from(s, "base64url"),
  );
  if (!valid) return "AADSTS700027: Client assertion contains an invalid signature.";
  if (payload["iss"] !== host.settings.clientId || payload["sub"] !== host.settings.clientId) {
    return "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter.";
  }
  const aud = String(payload["aud"] ?? "");
  if (!aud.startsWith(host.url) || !aud.toLowerCase().includes(tenantId)) {
    return `AADSTS700212: No matching federated identity record found for presented assertion audience '${aud}'.`;
  }
  if (typeof payload["exp"] !== "number" || payload["exp"] * 1000 < Date.now()) {
    return "AADSTS700024: Client assertion is not within its valid time range.";
  }
  return undefined;
}
