/** Reads a Secrets Manager secret's string (the ops key), once per cold start by the callers. */
import { GetSecretValueCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";

export async function readSecretString(arn: string): Promise<string> {
  const result = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: arn }));
  if (result.SecretString === undefined) throw new Error("the secret has no string value");
  return result.SecretString;
}
