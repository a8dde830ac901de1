/**
 * DynamoDB clients, built once per cold start (module scope in a Lambda handler) and injected
 * into the store.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { EmbeddedHttpHandler } from "./embedded-http.ts";

export interface DynamoClientOptions {
  /** e.g. dynalite's `http://127.0.0.1:<port>`; default: the region's AWS endpoint. */
  endpoint?: string;
  /** @default process.env.AWS_REGION, else "us-east-1" */
  region?: string;
  /**
   * The endpoint is the embedded dynalite this process started (the local runtime): requests
   * carry a fixed, well-formed SigV4 Authorization header instead of a computed signature,
   * and no SDK user agent, over a leaner HTTP handler (embedded-http.ts).
   * dynalite checks the header's form, never the signature; SigV4 (an HMAC chain and a SHA-256
   * of every body) was about a tenth of the service's CPU there. Never for AWS or any endpoint
   * this process did not start (DynamoDB Local, LocalStack may check more).
   */
  embedded?: boolean;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The low-level client (table management). A loopback endpoint gets dummy credentials: the
 * embedded engine does not check signatures and no AWS credentials are needed or looked up.
 */
export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  const local = options.endpoint !== undefined && LOOPBACK_HOSTS.has(new URL(options.endpoint).hostname);
  if (options.embedded && !local)
    throw new TypeError("embedded needs the loopback endpoint of the embedded engine");
  const region = options.region ?? process.env["AWS_REGION"] ?? "us-east-1";
  const client = new DynamoDBClient({
    region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(local ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } } : {}),
    ...(options.embedded
      ? { signer: embeddedSigner(region), requestHandler: new EmbeddedHttpHandler() }
      : {}),
  });
  if (options.embedded) {
    // Nobody reads the user agent there; building it was ~3% of the service's CPU. A no-op
    // keeps its name: others place their middleware relative to it (Powertools does).
    client.middlewareStack.remove("getUserAgentMiddleware");
    client.middlewareStack.add((next) => next, { step: "build", name: "getUserAgentMiddleware" });
  }
  return client;
}

/** The Authorization header dynalite accepts (its form checked, its signature never). */
function embeddedSigner(region: string) {
  let second = -1;
  let date = "";
  let authorization = "";
  return {
    sign: async <T extends { headers: Record<string, string> }>(request: T): Promise<T> => {
      const now = Math.floor(Date.now() / 1000);
      if (now !== second) {
        second = now;
        date = new Date(now * 1000).toISOString().replace(/[-:]|\.\d{3}/g, "");
        authorization = `AWS4-HMAC-SHA256 Credential=local/${date.slice(0, 8)}/${region}/dynamodb/aws4_request, SignedHeaders=host;x-amz-date, Signature=embedded`;
      }
      request.headers["x-amz-date"] = date;
      request.headers["authorization"] = authorization;
      return request;
    },
  };
}

/**
 * The document client the store uses.
 *
 * @example
 * // module scope of a handler: built once per cold start
 * const docClient = createDocumentClient({ endpoint: process.env.DYNAMODB_ENDPOINT });
 * const store = new DynamoTenantStore({ client: docClient, tableName: process.env.TABLE_NAME! });
 */
export function createDocumentClient(options: DynamoClientOptions | { client: DynamoDBClient } = {}) {
  const client = "client" in options ? options.client : createDynamoClient(options);
  return DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}
