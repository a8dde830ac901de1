/**
 * The credentials each function's environment gets (as Lambda gives the execution role's
 * temporary credentials): an access key id that names the function to the cloud endpoint, a
 * secret the endpoint verifies SigV4 signatures with, a session token naming the role.
 * Secrets are new at every start of the form.
 */
import { randomBytes } from "node:crypto";
import { stableId } from "../template.ts";

export interface FunctionCredentials {
  functionId: string;
  roleArn: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export class CredentialStore {
  readonly #byKey = new Map<string, FunctionCredentials>();

  issue(functionId: string, roleArn: string): FunctionCredentials {
    const accessKeyId = `ASIA${stableId(functionId, 16).toUpperCase()}`;
    const existing = this.#byKey.get(accessKeyId);
    if (existing) return existing;
    const credentials = {
      functionId,
      roleArn,
      accessKeyId,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: Buffer.from(JSON.stringify({ role: roleArn, fn: functionId })).toString("base64"),
    };
    this.#byKey.set(accessKeyId, credentials);
    return credentials;
  }

  byAccessKey(accessKeyId: string): FunctionCredentials | undefined {
    return this.#byKey.get(accessKeyId);
  }
}
