/**
 * Opaque pagination cursors: base64url of `{p, m}` where `p` is the position (the sort key of
 * the last item returned) and `m` an HMAC-SHA256 of the list's scope and `p`. A cursor is only
 * accepted for the list it was issued for; anything else is an InvalidCursorError.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidCursorError } from "../../domain/errors.ts";

const MAX_CURSOR_LENGTH = 1024;
const MAC_BYTES = 16;

export class CursorCodec {
  readonly #secret: string;

  constructor(secret: string) {
    this.#secret = secret;
  }

  encode(scope: string, position: string): string {
    return Buffer.from(JSON.stringify({ p: position, m: this.#mac(scope, position) })).toString("base64url");
  }

  /** Returns the position; `isPosition` is the strict shape check applied after the MAC. */
  decode(scope: string, cursor: string, isPosition: (position: string) => boolean): string {
    const invalid = () => new InvalidCursorError("The cursor was not issued by this service for this list.");
    if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    } catch {
      throw invalid();
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid();
    const { p, m, ...rest } = parsed as Record<string, unknown>;
    if (Object.keys(rest).length > 0 || typeof p !== "string" || typeof m !== "string") throw invalid();
    const given = Buffer.from(m, "base64url");
    const expected = Buffer.from(this.#mac(scope, p), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    if (!isPosition(p)) throw invalid();
    return p;
  }

  #mac(scope: string, position: string): string {
    return createHmac("sha256", this.#secret)
      .update(`${scope}\u0000${position}`)
      .digest()
      .subarray(0, MAC_BYTES)
      .toString("base64url");
  }
}
