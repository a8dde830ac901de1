/**
 * Opaque pagination cursors: base64url of `{p, m}` where `p` is the position (the sort key of
 * the last item returned), encrypted (`e.` and AES-256-GCM: a sort key may hold what the caller
 * must not learn, e.g. a tenant's stored event sequence, which counts a previous owner's events
 * too), and `m` an HMAC-SHA256 of the list's scope and `p`. A cursor is only accepted for the
 * list it was issued for; anything else is an InvalidCursorError. Cursors issued with a plain
 * position before keep working.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, timingSafeEqual } from "node:crypto";
import { InvalidCursorError } from "../../domain/errors.ts";

const MAX_CURSOR_LENGTH = 1024;
const MAC_BYTES = 16;
const SEALED = "e.";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class CursorCodec {
  readonly #secret: string;
  /** AES-256 key of the positions, derived from the secret once. */
  readonly #key: Buffer;

  constructor(secret: string) {
    this.#secret = secret;
    this.#key = createHash("sha256").update(`cursor-encryption\u0000${secret}`).digest();
  }

  encode(scope: string, position: string): string {
    const sealed = this.#seal(scope, position);
    return Buffer.from(JSON.stringify({ p: sealed, m: this.#mac(scope, sealed) })).toString("base64url");
  }

  /** Returns the position; `isPosition` is the strict shape check applied after the MAC. */
  decode(scope: string, cursor: string, isPosition: (position: string) => boolean): string {
    const invalid = () => new InvalidCursorError("The cursor was not issued by this service for this list.");
    if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
    let parsed: unknown;
    try {
      const bytes = Buffer.from(cursor, "base64url");
      // Only the one spelling this codec writes (a trailing letter would otherwise be dropped).
      if (bytes.toString("base64url") !== cursor) throw invalid();
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch {
      throw invalid();
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw invalid();
    const { p, m, ...rest } = parsed as Record<string, unknown>;
    if (Object.keys(rest).length > 0 || typeof p !== "string" || typeof m !== "string") throw invalid();
    const given = Buffer.from(m, "base64url");
    const expected = Buffer.from(this.#mac(scope, p), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalid();
    const position = p.startsWith(SEALED) ? this.#open(p) : p;
    if (position === undefined || !isPosition(position)) throw invalid();
    return position;
  }

  /** Deterministic (the IV is a MAC of scope and position): the same page has the same cursor. */
  #seal(scope: string, position: string): string {
    const iv = createHmac("sha256", this.#secret)
      .update(`iv\u0000${scope}\u0000${position}`)
      .digest()
      .subarray(0, IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const body = Buffer.concat([cipher.update(position, "utf8"), cipher.final()]);
    return SEALED + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64url");
  }

  #open(sealed: string): string | undefined {
    const raw = Buffer.from(sealed.slice(SEALED.length), "base64url");
    if (raw.length < IV_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString(
        "utf8",
      );
    } catch {
      return undefined;
    }
  }

  #mac(scope: string, position: string): string {
    return createHmac("sha256", this.#secret)
      .update(`${scope}\u0000${position}`)
      .digest()
      .subarray(0, MAC_BYTES)
      .toString("base64url");
  }
}
