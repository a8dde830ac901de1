/**
 * The local cloud of the AWS form, as the functions' SDKs reach it: SigV4 checked with each
 * function's own secret, every call evaluated against that function's role policies from
 * cdk.out (dynamodb:LeadingKeys on the table and its indexes, the KMS key policy), refusals as
 * AWS sends them; KMS's encryption context (KmsSecretBox: a secret sealed for one partner
 * does not open for another); the SQS FIFO stand-in's groups, deduplication and redrive.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { KMSClient } from "@aws-sdk/client-kms";
import { ReceiveMessageCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KmsSecretBox } from "../../functions/webhooks/secret-box.ts";
import { type LocalCloud, startLocalCloud } from "../../infra/aws-local/cloud/index.ts";
import { CredentialStore } from "../../infra/aws-local/lambda/credentials.ts";
import { ROOT } from "../../infra/aws-local/setup.ts";
import { type Assembly, loadAssembly } from "../../infra/aws-local/template.ts";

let cloud: LocalCloud;
const dataDir = mkdtempSync(join(tmpdir(), "aws-cloud-"));
let assembly: Assembly;
const credentials = new CredentialStore();
const lines: string[] = [];

/** The function of the template whose logical id starts with this prefix. */
const fn = (prefix: string) =>
  assembly.ofType("AWS::Lambda::Function").find(([id]) => id.startsWith(prefix))![0];
function clientConfig(functionPrefix: string, secretOverride?: string) {
  const id = fn(functionPrefix);
  const role = String(assembly.resolve(assembly.template.Resources[id]!.Properties!["Role"]));
  const c = credentials.issue(id, role);
  return {
    region: "us-east-1",
    endpoint: cloud.endpoint.url,
    credentials: {
      accessKeyId: c.accessKeyId,
      secretAccessKey: secretOverride ?? c.secretAccessKey,
      sessionToken: c.sessionToken,
    },
  };
}

beforeAll(async () => {
  const cdkOut = join(ROOT, "cdk.out");
  const preliminary = loadAssembly(cdkOut, { cloudUrl: "http://127.0.0.1:0" });
  cloud = await startLocalCloud({
    assembly: preliminary,
    dataDir,
    credentials,
    log: (line) => lines.push(line),
  });
  assembly = loadAssembly(cdkOut, { cloudUrl: cloud.endpoint.url });
});
afterAll(async () => {
  await cloud?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const table = () => assembly.ref(assembly.ofType("AWS::DynamoDB::Table")[0]![0]);

describe("IAM on the functions' calls", () => {
  it("lets the authorizer read API keys and refuses it anything else, as AWS refuses", async () => {
    const db = new DynamoDBClient(clientConfig("ApiAuthorizer"));
    const allowed = await db.send(
      new GetItemCommand({ TableName: table(), Key: { pk: { S: "APIKEY#x" }, sk: { S: "APIKEY" } } }),
    );
    expect(allowed.Item).toBeUndefined();
    const before = cloud.endpoint.stats().refusals.length;
    const refused = db.send(
      new GetItemCommand({ TableName: table(), Key: { pk: { S: "TENANT#x" }, sk: { S: "TENANT" } } }),
    );
    await expect(refused).rejects.toMatchObject({
      name: "AccessDeniedException",
      message: expect.stringMatching(
        /^User: arn:aws:sts::000000000000:assumed-role\/.+\/ApiAuthorizer.+ is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table\//,
      ),
    });
    const write = db.send(
      new PutItemCommand({ TableName: table(), Item: { pk: { S: "APIKEY#x" }, sk: { S: "APIKEY" } } }),
    );
    await expect(write).rejects.toMatchObject({ name: "AccessDeniedException" });
    expect(cloud.endpoint.stats().refusals.length).toBe(before + 2);
    expect(lines.some((l) => l.includes("IAM refused") && l.includes("dynamodb:PutItem"))).toBe(true);
  });

  it("checks LeadingKeys on the index a query names", async () => {
    const db = new DynamoDBClient(clientConfig("ApiHandler"));
    const query = (index: string, pk: string) =>
      db.send(
        new QueryCommand({
          TableName: table(),
          IndexName: index,
          KeyConditionExpression: "#pk = :pk",
          ExpressionAttributeNames: { "#pk": `${index}pk` },
          ExpressionAttributeValues: { ":pk": { S: pk } },
        }),
      );
    await expect(query("gsi4", "PARTNERS")).resolves.toMatchObject({ Count: 0 });
    await expect(query("gsi3", "PARTNERS")).rejects.toMatchObject({ name: "AccessDeniedException" });
  });

  it("rejects a signature made with another secret", async () => {
    const db = new DynamoDBClient(clientConfig("ApiAuthorizer", "not-the-secret"));
    await expect(
      db.send(
        new GetItemCommand({ TableName: table(), Key: { pk: { S: "APIKEY#x" }, sk: { S: "APIKEY" } } }),
      ),
    ).rejects.toMatchObject({ name: "InvalidSignatureException" });
  });
});

describe("KMS with the encryption context (KmsSecretBox)", () => {
  it("opens a secret sealed for one partner for that partner only, and only in the dispatcher", async () => {
    const keyId = assembly.getAtt(assembly.ofType("AWS::KMS::Key")[0]![0], "Arn");
    const sealer = new KmsSecretBox({ keyId, client: new KMSClient(clientConfig("ApiHandler")) });
    const opener = new KmsSecretBox({ keyId, client: new KMSClient(clientConfig("WebhooksDispatcher")) });
    const sealed = await sealer.seal("whsec_c2VjcmV0", "p_one");
    expect(sealed).not.toContain("c2VjcmV0");
    await expect(opener.open(sealed, "p_one")).resolves.toBe("whsec_c2VjcmV0");
    await expect(opener.open(sealed, "p_two")).rejects.toMatchObject({ name: "InvalidCiphertextException" });
    // The API function may seal, never open (its policy grants kms:Encrypt only).
    await expect(sealer.open(sealed, "p_one")).rejects.toMatchObject({ name: "AccessDeniedException" });
  });
});

describe("the SQS FIFO stand-in", () => {
  const queueArn = () =>
    assembly.getAtt(
      assembly.ofType("AWS::SQS::Queue").find(([id]) => id.startsWith("WebhooksQueue"))![0],
      "Arn",
    );

  it("keeps a group in order, one batch in flight per group, drops duplicates, redrives after maxReceiveCount", async () => {
    const sqs = new SQSClient(clientConfig("WebhooksStreamForwarder"));
    const queueUrl = assembly.ref(
      assembly.ofType("AWS::SQS::Queue").find(([id]) => id.startsWith("WebhooksQueue"))![0],
    );
    const entry = (id: string, group: string, dedup: string) => ({
      Id: id,
      MessageBody: JSON.stringify({ id, group }),
      MessageGroupId: group,
      MessageDeduplicationId: dedup,
    });
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: [
          entry("a1", "A", "a1"),
          entry("b1", "B", "b1"),
          entry("a2", "A", "a2"),
          entry("dup", "A", "a1"),
        ],
      }),
    );
    expect(sent.Successful).toHaveLength(4);
    const queue = cloud.sqs.queue(queueArn())!;
    const first = cloud.sqs.receive(queue, 10);
    expect(first.map((m) => JSON.parse(m.body).id)).toEqual(["a1", "b1", "a2"]);
    // Everything is in flight: nothing more, and no group hands out another message meanwhile.
    expect(cloud.sqs.receive(queue, 10)).toEqual([]);
    // b1 comes back at once (visibility 0); group A stays blocked by a1 in flight.
    cloud.sqs.changeVisibility(queue, first[1]!.receipt!, 0);
    cloud.sqs.changeVisibility(queue, first[2]!.receipt!, 0);
    expect(cloud.sqs.receive(queue, 10).map((m) => JSON.parse(m.body).id)).toEqual(["b1"]);

    // The stream forwarder may send, never receive (its policy).
    await expect(sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl }))).rejects.toMatchObject({
      name: "AccessDeniedException",
    });
    // A copy within 5 minutes is dropped: a1's deduplication id sent again adds nothing.
    const depth = cloud.sqs.depth(queueArn());
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: [entry("again", "C", "a1")] }));
    expect(cloud.sqs.depth(queueArn())).toBe(depth);
  });

  it("moves a message received maxReceiveCount times to the dead-letter queue", async () => {
    const queue = cloud.sqs.queue(queueArn())!;
    const policy = (
      assembly.resolve(
        assembly.template.Resources[
          assembly.ofType("AWS::SQS::Queue").find(([id]) => id.startsWith("WebhooksQueue"))![0]
        ]!.Properties,
      ) as { RedrivePolicy: { maxReceiveCount: number; deadLetterTargetArn: string } }
    ).RedrivePolicy;
    cloud.sqs.send(queue, { body: "poison", groupId: "D", dedupId: "poison" });
    const receives = () => cloud.sqs.receive(queue, 10).filter((m) => m.body === "poison");
    for (let i = 0; i < policy.maxReceiveCount; i++) {
      const [m] = receives();
      expect(m?.receiveCount).toBe(i + 1);
      cloud.sqs.changeVisibility(queue, m!.receipt!, 0);
    }
    const dlqBefore = cloud.sqs.depth(policy.deadLetterTargetArn);
    expect(receives()).toEqual([]);
    expect(cloud.sqs.depth(policy.deadLetterTargetArn)).toBe(dlqBefore + 1);
  });
});
