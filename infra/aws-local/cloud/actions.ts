/**
 * What IAM authorizes for one AWS call: its action, resource ARN and condition keys, derived
 * from the request as AWS does (`dynamodb:LeadingKeys` from the partition key values a request
 * touches, on the table or the index; `kms:EncryptionContext:*`; batch calls authorized per
 * table, SQS batch calls by their single-message action).
 */
import { LOCAL_ACCOUNT, LOCAL_PARTITION, LOCAL_REGION } from "../contracts.ts";
import type { Assembly } from "../template.ts";
import type { Authorization } from "./iam.ts";

type Json = Record<string, unknown>;
type AttributeValue = { S?: string; N?: string; B?: string };

const arn = (service: string, resource: string, region = LOCAL_REGION, account = LOCAL_ACCOUNT) =>
  `arn:${LOCAL_PARTITION}:${service}:${region}:${account}:${resource}`;

/** Partition key attribute of each table and index, by table name. */
export function keySchemas(
  assembly: Assembly,
): Map<string, { table: string; indexes: Record<string, string> }> {
  const out = new Map<string, { table: string; indexes: Record<string, string> }>();
  for (const [id, resource] of assembly.ofType("AWS::DynamoDB::Table")) {
    const p = resource.Properties as {
      KeySchema: { AttributeName: string; KeyType: string }[];
      GlobalSecondaryIndexes?: {
        IndexName: string;
        KeySchema: { AttributeName: string; KeyType: string }[];
      }[];
    };
    const hash = (schema: { AttributeName: string; KeyType: string }[]) =>
      schema.find((k) => k.KeyType === "HASH")?.AttributeName ?? "";
    out.set(assembly.ref(id), {
      table: hash(p.KeySchema),
      indexes: Object.fromEntries(
        (p.GlobalSecondaryIndexes ?? []).map((g) => [g.IndexName, hash(g.KeySchema)]),
      ),
    });
  }
  return out;
}

export function authorizationsOf(
  service: string,
  target: string | undefined,
  method: string,
  path: string,
  body: Json,
  keys: ReturnType<typeof keySchemas>,
): Authorization[] {
  const operation = target?.slice(target.indexOf(".") + 1) ?? "";
  switch (service) {
    case "dynamodb":
      return dynamodb(operation, body, keys);
    case "sqs": {
      const single = operation.replace(/Batch$/, "");
      const url = String(body["QueueUrl"] ?? "");
      const name = url.slice(url.lastIndexOf("/") + 1) || String(body["QueueName"] ?? "");
      return [{ action: `sqs:${single}`, resource: arn("sqs", name), context: {} }];
    }
    case "kms": {
      const keyId = String(body["KeyId"] ?? "");
      const resource = keyId.startsWith("arn:") ? keyId : arn("kms", `key/${keyId}`);
      const ec = (body["EncryptionContext"] ?? {}) as Record<string, string>;
      const context: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ec)) context[`kms:EncryptionContext:${k}`] = v;
      if (Object.keys(ec).length > 0) context["kms:EncryptionContextKeys"] = Object.keys(ec);
      return [{ action: `kms:${operation}`, resource, context }];
    }
    case "secretsmanager": {
      const id = String(body["SecretId"] ?? "");
      return [
        {
          action: `secretsmanager:${operation}`,
          resource: id.startsWith("arn:") ? id : arn("secretsmanager", `secret:${id}`),
          context: {},
        },
      ];
    }
    case "states": {
      const resource = String(body["stateMachineArn"] ?? body["executionArn"] ?? "*");
      return [{ action: `states:${operation}`, resource, context: {} }];
    }
    case "apigateway":
      return [
        {
          action: `apigateway:${method.toUpperCase()}`,
          resource: `arn:${LOCAL_PARTITION}:apigateway:${LOCAL_REGION}::${path}`,
          context: {},
        },
      ];
    default:
      return [{ action: `${service}:${operation}`, resource: "*", context: {} }];
  }
}

function dynamodb(operation: string, body: Json, keys: ReturnType<typeof keySchemas>): Authorization[] {
  const tableArn = (table: string, index?: string) =>
    arn("dynamodb", `table/${table}${index ? `/index/${index}` : ""}`);
  const leading = (values: (string | undefined)[]): Record<string, string[]> => {
    const list = [...new Set(values.filter((v): v is string => v !== undefined))];
    return list.length > 0 ? { "dynamodb:LeadingKeys": list } : {};
  };
  const pk = (table: string, item: unknown) => {
    const attr = keys.get(table)?.table ?? "";
    const v = (item as Record<string, AttributeValue> | undefined)?.[attr];
    return v?.S ?? v?.N ?? v?.B;
  };
  const table = String(body["TableName"] ?? "");
  switch (operation) {
    case "GetItem":
    case "DeleteItem":
    case "UpdateItem":
      return [
        {
          action: `dynamodb:${operation}`,
          resource: tableArn(table),
          context: leading([pk(table, body["Key"])]),
        },
      ];
    case "PutItem":
      return [
        {
          action: "dynamodb:PutItem",
          resource: tableArn(table),
          context: leading([pk(table, body["Item"])]),
        },
      ];
    case "Query": {
      const index = body["IndexName"] as string | undefined;
      const schema = keys.get(table);
      const attr = index ? schema?.indexes[index] : schema?.table;
      return [
        {
          action: "dynamodb:Query",
          resource: tableArn(table, index),
          context: leading([queryKey(body, attr)]),
        },
      ];
    }
    case "Scan": {
      const index = body["IndexName"] as string | undefined;
      return [{ action: "dynamodb:Scan", resource: tableArn(table, index), context: {} }];
    }
    case "BatchGetItem":
      return Object.entries((body["RequestItems"] ?? {}) as Record<string, { Keys: unknown[] }>).map(
        ([t, r]) => ({
          action: "dynamodb:BatchGetItem",
          resource: tableArn(t),
          context: leading(r.Keys.map((k) => pk(t, k))),
        }),
      );
    case "BatchWriteItem":
      return Object.entries((body["RequestItems"] ?? {}) as Record<string, Json[]>).map(([t, requests]) => ({
        action: "dynamodb:BatchWriteItem",
        resource: tableArn(t),
        context: leading(
          requests.map((r) =>
            pk(t, (r["PutRequest"] as Json)?.["Item"] ?? (r["DeleteRequest"] as Json)?.["Key"]),
          ),
        ),
      }));
    case "TransactWriteItems":
    case "TransactGetItems":
      return ((body["TransactItems"] ?? []) as Json[]).map((entry) => {
        const [kind, request] = Object.entries(entry)[0] as [string, Json];
        const action =
          {
            ConditionCheck: "ConditionCheckItem",
            Put: "PutItem",
            Update: "UpdateItem",
            Delete: "DeleteItem",
            Get: "GetItem",
          }[kind] ?? kind;
        const t = String(request["TableName"]);
        return {
          action: `dynamodb:${action}`,
          resource: tableArn(t),
          context: leading([pk(t, request["Key"] ?? request["Item"])]),
        };
      });
    default:
      return [{ action: `dynamodb:${operation}`, resource: table ? tableArn(table) : "*", context: {} }];
  }
}

/** The partition key value a Query's KeyConditionExpression names (`#pk = :v` or `pk = :v`). */
function queryKey(body: Json, attribute: string | undefined): string | undefined {
  if (!attribute) return undefined;
  const expression = String(body["KeyConditionExpression"] ?? "");
  const names = (body["ExpressionAttributeNames"] ?? {}) as Record<string, string>;
  const values = (body["ExpressionAttributeValues"] ?? {}) as Record<string, AttributeValue>;
  for (const m of expression.matchAll(/([#\w]+)\s*=\s*(:\w+)/g)) {
    const name = m[1]!.startsWith("#") ? names[m[1]!] : m[1];
    if (name === attribute) {
      const v = values[m[2]!];
      return v?.S ?? v?.N ?? v?.B;
    }
  }
  return undefined;
}
