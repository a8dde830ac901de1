/**
 * KMS here: a small local service for the template's keys (AWS::KMS::Key): Encrypt, Decrypt
 * and GenerateDataKey with an encryption context bound to the ciphertext (AES-256-GCM, the
 * context as additional data: a ciphertext opens only with the context it was sealed with,
 * as in KMS). Key material is kept in DATA_DIR; the key policy is checked by the endpoint's IAM
 * evaluation.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AwsResponse, awsJsonError } from "../contracts.ts";
import type { Assembly } from "../template.ts";

const MAGIC = Buffer.from("LKM1");

export class KmsService {
  readonly #keys = new Map<string, { arn: string; material: Buffer }>();

  constructor(assembly: Assembly, dataDir: string) {
    const dir = join(dataDir, "kms");
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const [id] of assembly.ofType("AWS::KMS::Key")) {
      const keyId = assembly.ref(id);
      const file = join(dir, keyId);
      if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600 });
      this.#keys.set(keyId, {
        arn: assembly.getAtt(id, "Arn"),
        material: Buffer.from(readFileSync(file, "utf8"), "base64"),
      });
    }
  }

  /** The key ARN a ciphertext blob (base64) was sealed with. */
  keyArnOfBlob(blob: string): string | undefined {
    const raw = Buffer.from(blob, "base64");
    if (!raw.subarray(0, 4).equals(MAGIC)) return undefined;
    return this.#keys.get(raw.subarray(4, 40).toString())?.arn;
  }

  #key(ref: string) {
    for (const [id, key] of this.#keys) if (ref === id || ref === key.arn) return { id, ...key };
    return undefined;
  }

  async handle(target: string, body: Record<string, unknown>): Promise<AwsResponse> {
    const operation = target.replace(/^TrentService\./, "");
    const aad = Buffer.from(canonicalContext(body["EncryptionContext"]));
    const ok = (payload: object): AwsResponse => ({
      status: 200,
      headers: { "content-type": "application/x-amz-json-1.1" },
      body: JSON.stringify(payload),
    });
    const seal = (key: { id: string; material: Buffer }, plaintext: Buffer) => {
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", key.material, iv);
      cipher.setAAD(aad);
      const data = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      return Buffer.concat([MAGIC, Buffer.from(key.id), iv, cipher.getAuthTag(), data]).toString("base64");
    };
    switch (operation) {
      case "Encrypt":
      case "GenerateDataKey": {
        const key = this.#key(String(body["KeyId"] ?? ""));
        if (!key)
          return awsJsonError(400, "NotFoundException", `Key '${String(body["KeyId"])}' does not exist`);
        const plaintext =
          operation === "Encrypt"
            ? Buffer.from(String(body["Plaintext"] ?? ""), "base64")
            : randomBytes(Number(body["NumberOfBytes"] ?? (body["KeySpec"] === "AES_128" ? 16 : 32)));
        if (operation === "Encrypt" && (plaintext.length === 0 || plaintext.length > 4096)) {
          return awsJsonError(400, "ValidationException", "Plaintext must be 1 to 4096 bytes");
        }
        const CiphertextBlob = seal(key, plaintext);
        return ok({
          KeyId: key.arn,
          CiphertextBlob,
          EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
          ...(operation === "GenerateDataKey" ? { Plaintext: plaintext.toString("base64") } : {}),
        });
      }
      case "Decrypt": {
        const raw = Buffer.from(String(body["CiphertextBlob"] ?? ""), "base64");
        const key = raw.subarray(0, 4).equals(MAGIC) ? this.#key(raw.subarray(4, 40).toString()) : undefined;
        const invalid = () => awsJsonError(400, "InvalidCiphertextException", "");
        if (!key) return invalid();
        if (body["KeyId"] && this.#key(String(body["KeyId"]))?.id !== key.id) {
          return awsJsonError(
            400,
            "IncorrectKeyException",
            "The key ID in the request does not identify a CMK that can perform this operation.",
          );
        }
        try {
          const decipher = createDecipheriv("aes-256-gcm", key.material, raw.subarray(40, 52));
          decipher.setAAD(aad);
          decipher.setAuthTag(raw.subarray(52, 68));
          const plaintext = Buffer.concat([decipher.update(raw.subarray(68)), decipher.final()]);
          return ok({
            KeyId: key.arn,
            Plaintext: plaintext.toString("base64"),
            EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
          });
        } catch {
          return invalid();
        }
      }
      default:
        return awsJsonError(
          400,
          "UnsupportedOperationException",
          `${operation} is not served by the AWS form's KMS`,
        );
    }
  }
}

function canonicalContext(context: unknown): string {
  if (!context || typeof context !== "object") return "";
  return JSON.stringify(
    Object.entries(context as Record<string, string>).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
}
