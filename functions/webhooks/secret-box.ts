/**
 * Webhook secrets at rest. A partner's `whsec_` secret is the HMAC key of its signatures, so it
 * cannot be stored hashed; it is stored encrypted instead, and only the signing code (the
 * dispatchers) can decrypt it:
 *
 * - AWS: KMS `Encrypt` by the API function (it creates and rotates secrets, and never reads
 *   them back), `Decrypt` by the webhook dispatcher only (infra/aws grants it), with the
 *   partner id as encryption context, so that a ciphertext moved to another partner's endpoint
 *   does not open;
 * - locally: AES-256-GCM with a key kept in DATA_DIR, the partner id as associated data.
 *
 * Stored forms: `kms:v1:<base64 ciphertext blob>`, `aes:v1:<base64url iv|tag|ciphertext>`, and
 * a clear `whsec_...` written before encryption existed (still read as is: migration).
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { DecryptCommand, EncryptCommand, KMSClient } from "@aws-sdk/client-kms";

/** Seals a new secret for storage. */
export interface SecretSealer {
  seal(secret: string, partnerId: string): Promise<string>;
}

/** Opens a stored secret (the signing side). */
export interface SecretOpener {
  open(stored: string, partnerId: string): Promise<string>;
}

const KMS_PREFIX = "kms:v1:";
const AES_PREFIX = "aes:v1:";
const CONTEXT_PURPOSE = "journal-onboarding webhook secret";

/** A secret stored before encryption (or by a deployment without a key): read as is. */
export const isClearSecret = (stored: string) => stored.startsWith("whsec_");

/** KMS, with the partner as encryption context. `keyId`: the key's id, ARN or alias. */
export class KmsSecretBox implements SecretSealer, SecretOpener {
  readonly #client: KMSClient;
  readonly #keyId: string;
  /** Opened secrets by ciphertext: one Decrypt per secret per container, not per delivery. */
  readonly #opened = new Map<string, string>();

  constructor(options: { keyId: string; client?: KMSClient }) {
    this.#keyId = options.keyId;
    this.#client = options.client ?? new KMSClient({});
  }

  async seal(secret: string, partnerId: string): Promise<string> {
    const { CiphertextBlob } = await this.#client.send(
      new EncryptCommand({
        KeyId: this.#keyId,
        Plaintext: Buffer.from(secret, "utf8"),
        EncryptionContext: { partnerId, purpose: CONTEXT_PURPOSE },
      }),
    );
    if (!CiphertextBlob) throw new Error("KMS returned no ciphertext");
    return KMS_PREFIX + Buffer.from(CiphertextBlob).toString("base64");
  }

  async open(stored: string, partnerId: string): Promise<string> {
    if (isClearSecret(stored)) return stored;
    if (!stored.startsWith(KMS_PREFIX)) throw new Error("not a KMS-sealed webhook secret");
    const cached = this.#opened.get(`${partnerId}|${stored}`);
    if (cached) return cached;
    const { Plaintext } = await this.#client.send(
      new DecryptCommand({
        KeyId: this.#keyId,
        CiphertextBlob: Buffer.from(stored.slice(KMS_PREFIX.length), "base64"),
        EncryptionContext: { partnerId, purpose: CONTEXT_PURPOSE },
      }),
    );
    if (!Plaintext) throw new Error("KMS returned no plaintext");
    const secret = Buffer.from(Plaintext).toString("utf8");
    if (this.#opened.size > 1000) this.#opened.clear();
    this.#opened.set(`${partnerId}|${stored}`, secret);
    return secret;
  }
}

/** AES-256-GCM with a local 32-byte key (the local runtime keeps it in DATA_DIR). */
export class LocalSecretBox implements SecretSealer, SecretOpener {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new TypeError("the local webhook secret key must be 32 bytes");
    this.#key = key;
  }

  async seal(secret: string, partnerId: string): Promise<string> {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    cipher.setAAD(Buffer.from(partnerId, "utf8"));
    const ct = Buffer.concat([cipher.update(secret, "utf8"), cipher.final()]);
    return AES_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString("base64url");
  }

  async open(stored: string, partnerId: string): Promise<string> {
    if (isClearSecret(stored)) return stored;
    if (!stored.startsWith(AES_PREFIX)) throw new Error("not a locally sealed webhook secret");
    const raw = Buffer.from(stored.slice(AES_PREFIX.length), "base64url");
    const decipher = createDecipheriv("aes-256-gcm", this.#key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(partnerId, "utf8"));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
  }
}

/** Without a key (unit tests of the API only): secrets stay in clear, as before encryption. */
export const CLEAR_SECRETS: SecretSealer & SecretOpener = {
  seal: async (secret) => secret,
  open: async (stored) => {
    if (!isClearSecret(stored)) throw new Error("an encrypted webhook secret needs its key to open");
    return stored;
  },
};

/** From the environment: `WEBHOOK_SECRET_KEY_ID` (KMS key id, ARN or alias); none -> clear. */
export function secretBoxFromEnv(env: NodeJS.ProcessEnv = process.env): SecretSealer & SecretOpener {
  const keyId = env["WEBHOOK_SECRET_KEY_ID"]?.trim();
  return keyId ? new KmsSecretBox({ keyId }) : CLEAR_SECRETS;
}
