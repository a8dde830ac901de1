/**
 * API keys: how they look, how they are made and how they are kept. A key is shown once; the
 * store keeps only its SHA-256 hash, compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Prefix of every partner API key: makes leaked keys easy to find by secret scanners. */
export const API_KEY_PREFIX = "jok_";
/** `jok_` + 32 random bytes in base64url. */
export const API_KEY_PATTERN = /^jok_[A-Za-z0-9_-]{43}$/;
/** Prefix of a generated ops key: tells an ops key from a partner key at a glance (and to scanners). */
export const OPS_KEY_PREFIX = "jops_";

/** A new high-entropy API key (256 bits). Show it once; store only {@link hashApiKey}. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** A new ops key, `jops_` + 32 random bytes in base64url. */
export function generateOpsKey(): string {
  return OPS_KEY_PREFIX + randomBytes(32).toString("base64url");
}

/** SHA-256 (hex) of a key: what the store keeps and looks up. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Constant-time comparison of two hex SHA-256 hashes. */
export function sameKeyHash(a: string, b: string): boolean {
  const left = Buffer.from(a, "hex");
  const right = Buffer.from(b, "hex");
  return left.length === 32 && right.length === 32 && timingSafeEqual(left, right);
}
