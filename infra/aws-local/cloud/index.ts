/**
 * The local cloud the functions call: DynamoDB Local, the SQS stand-in, KMS and Secrets
 * Manager, behind the cloud endpoint (IAM-checked), plus the template's event source mappings
 * once the functions can be invoked.
 */
import type { AwsServiceHandler, Invoke } from "../contracts.ts";
import type { CredentialStore } from "../lambda/credentials.ts";
import type { Assembly } from "../template.ts";
import { createCapacityMeter } from "./capacity.ts";
import { type DynamoDbLocal, startDynamoDbLocal } from "./dynamodb.ts";
import { createIamChecker } from "./iam.ts";
import { KmsService } from "./kms.ts";
import { startQueueMapping } from "./queue-mapping.ts";
import { SecretsService } from "./secrets.ts";
import { type CloudEndpoint, startCloudEndpoint } from "./server.ts";
import { SqsStandIn } from "./sqs.ts";
import { startStreamMapping } from "./stream-mapping.ts";
import { startTtlSweeper } from "./ttl.ts";

export interface LocalCloud {
  endpoint: CloudEndpoint;
  db: DynamoDbLocal;
  sqs: SqsStandIn;
  secrets: SecretsService;
  kms: KmsService;
  /** Deletes the items expired by `at` (DynamoDB's TTL), as the periodic sweep does. */
  expire(at?: Date): Promise<number>;
  /** Starts the template's event source mappings (stream -> function, queue -> function); close them before the functions. */
  startMappings(invoke: Invoke): { close(): Promise<void> };
  close(): Promise<void>;
}

const json = (target: string | undefined, body: Buffer) =>
  [target ?? "", JSON.parse(body.toString() || "{}") as Record<string, unknown>] as const;

export async function startLocalCloud(o: {
  assembly: Assembly;
  dataDir: string;
  credentials: CredentialStore;
  log: (line: string) => void;
}): Promise<LocalCloud> {
  const { assembly } = o;
  const db = await startDynamoDbLocal({ dataDir: o.dataDir, assembly });
  const closers: (() => Promise<void>)[] = [() => db.close()];
  try {
    const sqs = new SqsStandIn(assembly, o.dataDir);
    const kms = new KmsService(assembly, o.dataDir);
    const secrets = new SecretsService(assembly, o.dataDir);
    const endpoint = await startCloudEndpoint({
      assembly,
      credentials: o.credentials,
      iam: createIamChecker(assembly),
      log: o.log,
      prepare: (service, target, body) => {
        if (
          service === "kms" &&
          target?.endsWith(".Decrypt") &&
          !body["KeyId"] &&
          typeof body["CiphertextBlob"] === "string"
        ) {
          const arn = kms.keyArnOfBlob(body["CiphertextBlob"]);
          if (arn) body["KeyId"] = arn;
        }
      },
    });
    closers.push(() => endpoint.close());
    const jsonService =
      (
        serve: (
          target: string,
          body: Record<string, unknown>,
        ) => Promise<import("../contracts.ts").AwsResponse>,
      ): AwsServiceHandler =>
      (request) =>
        serve(...json(request.target, request.body));
    const capacity = createCapacityMeter(db.forward);
    endpoint.register("dynamodb", (request) =>
      capacity.serve(request.target ?? "", request.body, request.caller),
    );
    endpoint.extraStats(() => ({ dynamodb: capacity.totals }));
    endpoint.register(
      "sqs",
      jsonService((t, b) => sqs.handle(t, b)),
    );
    endpoint.register(
      "kms",
      jsonService((t, b) => kms.handle(t, b)),
    );
    endpoint.register(
      "secretsmanager",
      jsonService((t, b) => secrets.handle(t, b)),
    );
    const ttl = startTtlSweeper({ db, assembly, log: o.log });
    closers.push(() => ttl.close());
    const mappings: { close(): Promise<void> }[] = [];
    return {
      endpoint,
      db,
      sqs,
      secrets,
      kms,
      expire: (at) => ttl.sweep(at),
      startMappings: (invoke) => {
        for (const [, resource] of assembly.ofType("AWS::Lambda::EventSourceMapping")) {
          mappings.push(
            startMapping(assembly, resource.Properties ?? {}, {
              db,
              sqs,
              invoke,
              dataDir: o.dataDir,
              log: o.log,
            }),
          );
        }
        return { close: async () => void (await Promise.all(mappings.splice(0).map((m) => m.close()))) };
      },
      close: async () => {
        for (const m of mappings) await m.close();
        for (const close of closers.reverse()) await close().catch(() => undefined);
      },
    };
  } catch (err) {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    throw err;
  }
}

function startMapping(
  assembly: Assembly,
  properties: Record<string, unknown>,
  c: { db: DynamoDbLocal; sqs: SqsStandIn; invoke: Invoke; dataDir: string; log: (line: string) => void },
): { close(): Promise<void> } {
  const p = assembly.resolve(properties) as Record<string, unknown>;
  const source = String(p["EventSourceArn"]);
  const functionRef = String(p["FunctionName"]);
  const reportBatchItemFailures = ((p["FunctionResponseTypes"] ?? []) as string[]).includes(
    "ReportBatchItemFailures",
  );
  if (source.includes(":sqs:")) {
    return startQueueMapping({
      sqs: c.sqs,
      invoke: c.invoke,
      functionRef,
      queueArn: source,
      batchSize: Number(p["BatchSize"] ?? 10),
      maxConcurrency: Number(
        (p["ScalingConfig"] as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 1000,
      ),
      reportBatchItemFailures,
      log: c.log,
    });
  }
  const tableName = source.split(":table/")[1]!.split("/")[0]!;
  const destination = (p["DestinationConfig"] as { OnFailure?: { Destination?: string } } | undefined)
    ?.OnFailure?.Destination;
  return startStreamMapping({
    db: c.db,
    invoke: c.invoke,
    functionRef,
    tableName,
    streamArn: source,
    batchSize: Number(p["BatchSize"] ?? 100),
    startingPosition: String(p["StartingPosition"] ?? "TRIM_HORIZON"),
    ...(p["FilterCriteria"]
      ? { filters: (p["FilterCriteria"] as { Filters: { Pattern: string }[] }).Filters }
      : {}),
    bisect: p["BisectBatchOnFunctionError"] === true,
    maxRetries:
      p["MaximumRetryAttempts"] === undefined ? Number.POSITIVE_INFINITY : Number(p["MaximumRetryAttempts"]),
    reportBatchItemFailures,
    ...(destination
      ? {
          onFailure: (record: object) => {
            const queue = c.sqs.queue(destination);
            if (queue) c.sqs.send(queue, { body: JSON.stringify(record) });
          },
        }
      : {}),
    dataDir: c.dataDir,
    log: c.log,
  });
}
