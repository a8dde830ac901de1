/**
 * SigV4 as AWS checks it: the Authorization header's credential names the caller (its access
 * key id), the scope names the region and service, and the signature must be the one the
 * caller's secret gives for this request (canonical request as the AWS SDK for JavaScript
 * builds it: path segments escaped again, query sorted, the signed headers only).
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export interface SignedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: Record<string, string>;
  body: Buffer;
}

export interface Credential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/** The credential of the Authorization header; undefined when missing or malformed. */
export function parseAuthorization(header: string | undefined): Credential | undefined {
  const m = header ? AUTH.exec(header.trim()) : null;
  if (!m) return undefined;
  return {
    accessKeyId: m[1]!,
    date: m[2]!,
    region: m[3]!,
    service: m[4]!,
    signedHeaders: m[5]!.split(";"),
    signature: m[6]!,
  };
}

const escapeUri = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();

function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith("/") ? "/" : ""}${segments.join("/")}${segments.length > 0 && path.endsWith("/") ? "/" : ""}`;
  return escapeUri(normalized).replace(/%2F/g, "/");
}

function canonicalQuery(query: string): string {
  const pairs: [string, string][] = [];
  for (const [key, value] of new URLSearchParams(query)) {
    if (key.toLowerCase() === "x-amz-signature") continue;
    pairs.push([escapeUri(key), escapeUri(value)]);
  }
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/** Whether the request carries a valid signature by this secret (and a date within 15 minutes). */
export function verifySignature(request: SignedRequest, credential: Credential, secret: string): boolean {
  const amzDate = request.headers["x-amz-date"];
  if (!amzDate?.startsWith(credential.date)) return false;
  const when = Date.parse(
    amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, "$1-$2-$3T$4:$5:$6Z"),
  );
  if (!Number.isFinite(when) || Math.abs(Date.now() - when) > 15 * 60_000) return false;
  const [path = "/", query = ""] = request.url.split(/\?(.*)/s, 2);
  const headers = credential.signedHeaders
    .map((name) => `${name}:${(request.headers[name] ?? "").trim().replace(/\s+/g, " ")}\n`)
    .join("");
  const payloadHash = request.headers["x-amz-content-sha256"] ?? sha256(request.body);
  const canonical = [
    request.method.toUpperCase(),
    canonicalPath(path),
    canonicalQuery(query),
    headers,
    credential.signedHeaders.join(";"),
    payloadHash,
  ].join("\n");
  const scope = `${credential.date}/${credential.region}/${credential.service}/aws4_request`;
  const toSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256(canonical)}`;
  let key = hmac(`AWS4${secret}`, credential.date);
  for (const part of [credential.region, credential.service, "aws4_request"]) key = hmac(key, part);
  const expected = Buffer.from(hmac(key, toSign).toString("hex"));
  const given = Buffer.from(credential.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
