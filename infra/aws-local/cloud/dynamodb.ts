/**
 * DynamoDB here is AWS's DynamoDB Local (the jar inside the npm package
 * amplify-dynamodb-simulator, on Java 17), one shared database kept under DATA_DIR, with the
 * template's tables created at the first start (key schema, GSIs, stream, TTL setting). The
 * cloud endpoint forwards the functions' calls to it after their IAM check; the stream's
 * event source mapping reads its Streams API.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import type { AwsResponse } from "../contracts.ts";
import type { Assembly } from "../template.ts";

export interface DynamoDbLocal {
  endpoint: string;
  /** Sends one JSON-protocol call (`DynamoDB_20120810.X` or `DynamoDBStreams_20120810.X`). */
  call<T = Record<string, unknown>>(target: string, body: object): Promise<T>;
  forward(target: string, body: Buffer): Promise<AwsResponse>;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startDynamoDbLocal(options: {
  dataDir: string;
  assembly: Assembly;
}): Promise<DynamoDbLocal> {
  const require = createRequire(import.meta.url);
  const jarDir = join(dirname(require.resolve("amplify-dynamodb-simulator/package.json")), "emulator");
  const dbPath = join(options.dataDir, "dynamodb-local");
  await mkdir(dbPath, { recursive: true });
  const port = await freePort();
  const child: ChildProcess = spawn(
    "java",
    [
      `-Djava.library.path=${join(jarDir, "DynamoDBLocal_lib")}`,
      "-Xmx512m",
      "-jar",
      join(jarDir, "DynamoDBLocal.jar"),
      "-sharedDb",
      "-dbPath",
      dbPath,
      "-port",
      String(port),
    ],
    { cwd: jarDir, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const forward = async (target: string, body: Buffer | string): Promise<AwsResponse> => {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/x-amz-json-1.0",
        "x-amz-target": target,
        // DynamoDB Local wants a well-formed SigV4 header; it does not check the signature
        // (the cloud endpoint did, with the caller's own secret).
        authorization: `AWS4-HMAC-SHA256 Credential=local/20200101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=${"0".repeat(64)}`,
      },
      body: typeof body === "string" ? body : new Uint8Array(body),
    });
    const headers: Record<string, string> = { "content-type": "application/x-amz-json-1.0" };
    const requestId = response.headers.get("x-amzn-requestid");
    if (requestId) headers["x-amzn-requestid"] = requestId;
    return { status: response.status, headers, body: Buffer.from(await response.arrayBuffer()) };
  };
  const call = async <T>(target: string, body: object): Promise<T> => {
    const response = await forward(target, JSON.stringify(body));
    const parsed = JSON.parse(response.body.toString() || "{}") as T & {
      __type?: string;
      message?: string;
      Message?: string;
    };
    if (response.status >= 400) {
      const err = new Error(parsed.message ?? parsed.Message ?? `DynamoDB Local answered ${response.status}`);
      err.name = String(parsed.__type ?? "DynamoDBLocalError").replace(/^.*#/, "");
      throw err;
    }
    return parsed;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`DynamoDB Local exited (${child.exitCode}): ${stderr.trim()}`);
    try {
      await call("DynamoDB_20120810.ListTables", {});
      break;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`DynamoDB Local did not start in 60 s: ${String(err)} ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await createTables(options.assembly, call);
  return {
    endpoint,
    call,
    forward,
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

async function createTables(
  assembly: Assembly,
  call: <T = Record<string, unknown>>(target: string, body: object) => Promise<T>,
): Promise<void> {
  const existing = new Set(
    (await call<{ TableNames: string[] }>("DynamoDB_20120810.ListTables", {})).TableNames,
  );
  for (const [id, resource] of assembly.ofType("AWS::DynamoDB::Table")) {
    const p = assembly.resolve(resource.Properties ?? {}) as Record<string, unknown>;
    const name = assembly.ref(id);
    if (existing.has(name)) continue;
    const stream = p["StreamSpecification"] as { StreamViewType: string } | undefined;
    await call("DynamoDB_20120810.CreateTable", {
      TableName: name,
      AttributeDefinitions: p["AttributeDefinitions"],
      KeySchema: p["KeySchema"],
      BillingMode: p["BillingMode"] ?? "PROVISIONED",
      ...(p["GlobalSecondaryIndexes"] ? { GlobalSecondaryIndexes: p["GlobalSecondaryIndexes"] } : {}),
      ...(p["LocalSecondaryIndexes"] ? { LocalSecondaryIndexes: p["LocalSecondaryIndexes"] } : {}),
      ...(stream
        ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType } }
        : {}),
      ...(p["BillingMode"] === "PAY_PER_REQUEST"
        ? {}
        : {
            ProvisionedThroughput: p["ProvisionedThroughput"] ?? {
              ReadCapacityUnits: 5,
              WriteCapacityUnits: 5,
            },
          }),
    });
    const ttl = p["TimeToLiveSpecification"] as { AttributeName: string; Enabled: boolean } | undefined;
    if (ttl?.Enabled) {
      await call("DynamoDB_20120810.UpdateTimeToLive", {
        TableName: name,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      });
    }
  }
}
