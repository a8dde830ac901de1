/**
 * DynamoDB clients, built once per cold start (module scope in a Lambda handler) and injected
 * into the store.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

export interface DynamoClientOptions {
  /** e.g. dynalite's `http://127.0.0.1:<port>`; default: the region's AWS endpoint. */
  endpoint?: string;
  /** @default process.env.AWS_REGION, else "us-east-1" */
  region?: string;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * The low-level client (table management). A loopback endpoint gets dummy credentials: the
 * embedded engine does not check signatures and no AWS credentials are needed or looked up.
 */
export function createDynamoClient(options: DynamoClientOptions = {}): DynamoDBClient {
  const local = options.endpoint !== undefined && LOOPBACK_HOSTS.has(new URL(options.endpoint).hostname);
  return new DynamoDBClient({
    region: options.region ?? process.env["AWS_REGION"] ?? "us-east-1",
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(local ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } } : {}),
  });
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
