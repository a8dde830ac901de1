/** Reads a Secrets Manager secret's string (the ops key); callers re-read it on a short TTL (`opsKeyHashSource`). */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

let client: SecretsManagerClient | undefined;

export async function readSecretString(arn: string): Promise<string> {
  client ??= new SecretsManagerClient({});
  const result = await client.send(new GetSecretValueCommand({ SecretId: arn }));
  if (result.SecretString === undefined) throw new Error("the secret has no string value");
  return result.SecretString;
}
