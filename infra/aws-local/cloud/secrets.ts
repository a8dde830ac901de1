/**
 * Secrets Manager here: a small local service for the template's secrets
 * (AWS::SecretsManager::Secret): values generated at the first start as GenerateSecretString
 * says (or SecretString), kept in DATA_DIR (mode 0600), read with GetSecretValue and replaced
 * with PutSecretValue (a rotation) or `put` (the form fills in the Microsoft 365 app and an
 * OPS_API_KEY it was given).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AwsResponse, awsJsonError } from "../contracts.ts";
import type { Assembly } from "../template.ts";

interface Stored {
  value: string;
  versionId: string;
  createdAt: number;
}

const LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

export class SecretsService {
  readonly #file: string;
  readonly #values: Record<string, Stored>;
  readonly #names = new Map<string, string>();

  constructor(assembly: Assembly, dataDir: string) {
    this.#file = join(dataDir, "secrets.json");
    this.#values = existsSync(this.#file)
      ? (JSON.parse(readFileSync(this.#file, "utf8")) as Record<string, Stored>)
      : {};
    for (const [id, resource] of assembly.ofType("AWS::SecretsManager::Secret")) {
      const arn = assembly.ref(id);
      const name = arn.slice(arn.indexOf(":secret:") + 8, -7);
      this.#names.set(name, arn);
      if (this.#values[arn]) continue;
      const p = assembly.resolve(resource.Properties ?? {}) as Record<string, unknown>;
      this.#values[arn] = { value: initialValue(p), versionId: randomUUID(), createdAt: Date.now() };
    }
    this.#save();
  }

  #save() {
    writeFileSync(`${this.#file}.tmp`, JSON.stringify(this.#values), { mode: 0o600 });
    renameSync(`${this.#file}.tmp`, this.#file);
  }

  arnOf(ref: string): string | undefined {
    if (this.#values[ref]) return ref;
    return this.#names.get(ref);
  }

  get(arn: string): string | undefined {
    return this.#values[arn]?.value;
  }

  put(arn: string, value: string): void {
    if (this.#values[arn]?.value === value) return;
    this.#values[arn] = { value, versionId: randomUUID(), createdAt: Date.now() };
    this.#save();
  }

  async handle(target: string, body: Record<string, unknown>): Promise<AwsResponse> {
    const operation = target.replace(/^secretsmanager\./, "");
    const arn = this.arnOf(String(body["SecretId"] ?? ""));
    if (!arn)
      return awsJsonError(
        400,
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
      );
    const name = arn.slice(arn.indexOf(":secret:") + 8, -7);
    const ok = (payload: object): AwsResponse => ({
      status: 200,
      headers: { "content-type": "application/x-amz-json-1.1" },
      body: JSON.stringify({ ARN: arn, Name: name, ...payload }),
    });
    switch (operation) {
      case "GetSecretValue": {
        const s = this.#values[arn]!;
        return ok({
          SecretString: s.value,
          VersionId: s.versionId,
          VersionStages: ["AWSCURRENT"],
          CreatedDate: s.createdAt / 1000,
        });
      }
      case "PutSecretValue":
        this.put(arn, String(body["SecretString"] ?? ""));
        return ok({ VersionId: this.#values[arn]!.versionId, VersionStages: ["AWSCURRENT"] });
      case "DescribeSecret":
        return ok({ LastChangedDate: this.#values[arn]!.createdAt / 1000 });
      default:
        return awsJsonError(
          400,
          "InvalidRequestException",
          `${operation} is not served by the AWS form's Secrets Manager`,
        );
    }
  }
}

function initialValue(p: Record<string, unknown>): string {
  if (typeof p["SecretString"] === "string") return p["SecretString"];
  const g = (p["GenerateSecretString"] ?? {}) as Record<string, unknown>;
  let alphabet = LETTERS + (g["ExcludePunctuation"] === true ? "" : PUNCTUATION);
  const excluded = String(g["ExcludeCharacters"] ?? "");
  alphabet = [...alphabet].filter((c) => !excluded.includes(c)).join("");
  const length = Number(g["PasswordLength"] ?? 32);
  const bytes = randomBytes(length);
  const password = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
  if (typeof g["SecretStringTemplate"] === "string" && typeof g["GenerateStringKey"] === "string") {
    const template = JSON.parse(g["SecretStringTemplate"]) as Record<string, unknown>;
    return JSON.stringify({ ...template, [g["GenerateStringKey"]]: password });
  }
  return password;
}
