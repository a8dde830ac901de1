/**
 * API Gateway API key values of the usage plans (not credentials: callers never send them; the
 * authorizer names them as `usageIdentifierKey`). API Gateway takes a value of 20 to 128
 * alphanumeric characters, unique in the account and region, whatever the stack is called: the
 * value is a digest of the key's name (`<prefix><partnerId>`, `<prefix>ops`, `<prefix>shared`,
 * the prefix naming the stack).
 */
import { createHash } from "node:crypto";

/** API Gateway's rule for an API key value. */
export const API_KEY_VALUE = /^[A-Za-z0-9]{20,128}$/;

/** The value of the usage plan key named `name`: `jo` and 40 hex digits. */
export function usageKeyValue(name: string): string {
  return `jo${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
}
