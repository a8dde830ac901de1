/** The simulator's bearer tokens: signing, verifying, and the check Graph and Exchange make. */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { DelegatedClaims } from "../exchange/delegated.ts";
import type { SimHost } from "../server.ts";

export interface TokenClaims extends DelegatedClaims {
  aud: string;
  tid: string;
  appid: string;
  roles: string[];
  exp: number;
}

/** The bearer token's claims when it is valid for `resource`, else why it is not. */
export function authenticate(host: SimHost, req: IncomingMessage, resource: string): TokenClaims | string {
  const header = req.headers.authorization ?? "";
  if (!/^Bearer /i.test(header)) return "Authorization header is missing or is not a Bearer token.";
  const claims = verifyToken(header.slice(7).trim(), host.settings.tokenKey);
  if (!claims) return "Access token validation failure. Invalid signature.";
  if (claims.exp * 1000 < Date.now()) return "Lifetime validation failed, the token is expired.";
  if (claims.aud !== resource)
    return `Access token validation failure. Invalid audience: expected ${resource}.`;
  // Consent revoked since the token was issued: the app's service principal is gone.
  const revokedAt = host.state(claims.tid).tokensRevokedAt;
  const issuedAt = (claims as TokenClaims & { iat?: number }).iat ?? 0;
  if (revokedAt !== undefined && issuedAt <= revokedAt) {
    return "Access token validation failure. The application's service principal was removed from the tenant.";
  }
  return claims;
}

export function signToken(claims: TokenClaims, key: Buffer): string {
  const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "HS256" })).toString("base64url");
  const payload = Buffer.from(
    JSON.stringify({ ...claims, iat: Math.floor(Date.now() / 1000), uti: randomUUID(), ver: "1.0" }),
  ).toString("base64url");
  const sig = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

/** A JWT of any claims, signed like the simulator's access tokens (HS256 with its token key). */
export function signJwt(claims: Record<string, unknown>, key: Buffer): string {
  const header = Buffer.from(JSON.stringify({ typ: "JWT", alg: "HS256" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify({ ...claims, uti: randomUUID() })).toString("base64url");
  const sig = createHmac("sha256", key).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${sig}`;
}

export function verifyToken(token: string, key: Buffer): TokenClaims | undefined {
  const [h, p, s] = token.split(".");
  if (!h || !p || !s) return undefined;
  const expected = createHmac("sha256", key).update(`${h}.${p}`).digest();
  const actual = Buffer.from(s, "base64url");
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return undefined;
  try {
    return JSON.parse(Buffer.from(p, "base64url").toString("utf8")) as TokenClaims;
  } catch {
    return undefined;
  }
}
