/**
 * The synthesized stack (`cdk.out`) as the AWS form reads it: the template, each function's
 * bundled asset folder, and the values CloudFormation would give each resource here (names,
 * ARNs, queue URLs), so that intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`,
 * `Fn::Select`, `Fn::Split`) resolve to this machine's local cloud.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CfnResource,
  type CfnTemplate,
  LOCAL_ACCOUNT,
  LOCAL_PARTITION,
  LOCAL_REGION,
  type Resolve,
} from "./contracts.ts";

export interface Assembly {
  stackName: string;
  /** The `cdk.out` folder. */
  dir: string;
  template: CfnTemplate;
  /** Resolves intrinsics to local values. */
  resolve: Resolve;
  /** What `Ref` gives for a resource (its physical id here). */
  ref(logicalId: string): string;
  /** What `Fn::GetAtt` gives. */
  getAtt(logicalId: string, attribute: string): string;
  /** Logical ids of the resources of a type, in template order. */
  ofType(type: string): [string, CfnResource][];
  /** The bundled asset folder of a Lambda function (its `aws:asset:path`). */
  assetDir(functionLogicalId: string): string;
}

export interface LoadOptions {
  /** @default "JournalOnboarding" */
  stackName?: string;
  /** Base URL of the local cloud endpoint (queue URLs point at it). */
  cloudUrl: string;
}

/** A short, stable id derived from a logical id (API Gateway ids, KMS key ids). */
export function stableId(logicalId: string, length = 10): string {
  return createHash("sha256").update(logicalId).digest("hex").slice(0, length);
}

export function loadAssembly(dir: string, options: LoadOptions): Assembly {
  const stackName = options.stackName ?? "JournalOnboarding";
  const template = JSON.parse(readFileSync(join(dir, `${stackName}.template.json`), "utf8")) as CfnTemplate;
  const resources = template.Resources;
  const names = localNames(stackName, resources, options.cloudUrl);
  const ref = referrer(names);
  const getAtt = attributeGetter(names, ref);
  const resolve = resolver(ref, getAtt);
  return {
    stackName,
    dir,
    template,
    resolve,
    ref,
    getAtt,
    ofType: (type) => Object.entries(resources).filter(([, r]) => r.Type === type),
    assetDir: (id) => {
      const path = resources[id]?.Metadata?.["aws:asset:path"];
      if (typeof path !== "string") throw new Error(`${id} has no bundled asset`);
      return join(dir, path);
    },
  };
}

/** What CloudFormation would name each resource here: given names, else `<stack>-<logical id>`. */
interface LocalNames {
  stackName: string;
  resources: CfnTemplate["Resources"];
  cloudUrl: string;
  arn(service: string, resource: string, region?: string, account?: string): string;
  prop(id: string, name: string): unknown;
  named(id: string, property: string): string;
  queueName(id: string): string;
}

function localNames(stackName: string, resources: CfnTemplate["Resources"], cloudUrl: string): LocalNames {
  const arn = (service: string, resource: string, region = LOCAL_REGION, account = LOCAL_ACCOUNT) =>
    `arn:${LOCAL_PARTITION}:${service}:${region}:${account}:${resource}`;
  const prop = (id: string, name: string) => resources[id]?.Properties?.[name];
  const named = (id: string, property: string) => {
    const given = prop(id, property);
    return typeof given === "string" ? given : `${stackName}-${id}`;
  };
  const queueName = (id: string) => {
    const given = prop(id, "QueueName");
    if (typeof given === "string") return given;
    return prop(id, "FifoQueue") === true ? `${stackName}-${id}.fifo` : `${stackName}-${id}`;
  };

  return { stackName, resources, cloudUrl, arn, prop, named, queueName };
}

/** `Ref`: a resource's physical id here, or a pseudo parameter's local value. */
function referrer({ stackName, resources, cloudUrl, arn, prop, named, queueName }: LocalNames) {
  return (id: string): string => {
    switch (id) {
      case "AWS::AccountId":
        return LOCAL_ACCOUNT;
      case "AWS::Region":
        return LOCAL_REGION;
      case "AWS::Partition":
        return LOCAL_PARTITION;
      case "AWS::StackName":
        return stackName;
      case "AWS::URLSuffix":
        return "amazonaws.com";
    }
    const resource = resources[id];
    if (!resource) throw new Error(`Ref to unknown resource ${id}`);
    switch (resource.Type) {
      case "AWS::DynamoDB::Table":
        return named(id, "TableName");
      case "AWS::Lambda::Function":
        return named(id, "FunctionName");
      case "AWS::IAM::Role":
        return named(id, "RoleName");
      case "AWS::Logs::LogGroup":
        return named(id, "LogGroupName");
      case "AWS::Events::Rule":
        return named(id, "Name");
      case "AWS::SQS::Queue":
        return `${cloudUrl}/${LOCAL_ACCOUNT}/${queueName(id)}`;
      case "AWS::StepFunctions::StateMachine":
        return arn("states", `stateMachine:${named(id, "StateMachineName")}`);
      case "AWS::SecretsManager::Secret":
        return arn("secretsmanager", `secret:${named(id, "Name")}-${stableId(id, 6)}`);
      case "AWS::KMS::Key":
        return stableUuid(id);
      case "AWS::ApiGateway::Stage":
        return String(prop(id, "StageName"));
      default:
        // API Gateway resources, deployments, authorizers, usage plans, keys...: an opaque id.
        return stableId(id);
    }
  };
}

/** `Fn::GetAtt`: the attributes the stack's intrinsics use. */
function attributeGetter({ resources, arn, named, queueName }: LocalNames, ref: (id: string) => string) {
  return (id: string, attribute: string): string => {
    const resource = resources[id];
    if (!resource) throw new Error(`Fn::GetAtt of unknown resource ${id}`);
    const key = `${resource.Type}.${attribute}`;
    switch (key) {
      case "AWS::DynamoDB::Table.Arn":
        return arn("dynamodb", `table/${ref(id)}`);
      case "AWS::DynamoDB::Table.StreamArn":
        return arn("dynamodb", `table/${ref(id)}/stream/local`);
      case "AWS::Lambda::Function.Arn":
        return arn("lambda", `function:${ref(id)}`);
      case "AWS::IAM::Role.Arn":
        return `arn:${LOCAL_PARTITION}:iam::${LOCAL_ACCOUNT}:role/${ref(id)}`;
      case "AWS::Logs::LogGroup.Arn":
        return arn("logs", `log-group:${ref(id)}:*`);
      case "AWS::Events::Rule.Arn":
        return arn("events", `rule/${ref(id)}`);
      case "AWS::SQS::Queue.Arn":
        return arn("sqs", queueName(id));
      case "AWS::SQS::Queue.QueueName":
        return queueName(id);
      case "AWS::KMS::Key.Arn":
        return arn("kms", `key/${ref(id)}`);
      case "AWS::StepFunctions::StateMachine.Name":
        return named(id, "StateMachineName");
      case "AWS::StepFunctions::StateMachine.Arn":
        return ref(id);
      case "AWS::ApiGateway::RestApi.RootResourceId":
        return stableId(`${id}/root`);
      case "AWS::SecretsManager::Secret.Id":
        return ref(id);
      default:
        throw new Error(`Fn::GetAtt ${key} is not known to the AWS form`);
    }
  };
}

/** Resolves `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Select`, `Fn::Split` and `Fn::Sub` anywhere in a value. */
function resolver(ref: (id: string) => string, getAtt: (id: string, attribute: string) => string): Resolve {
  const resolve: Resolve = (value) => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value);
    if (entries.length === 1) {
      const [[fn, arg]] = entries as [[string, unknown]];
      switch (fn) {
        case "Ref":
          return ref(String(arg));
        case "Fn::GetAtt": {
          const [id, attribute] = (Array.isArray(arg) ? arg : String(arg).split(".")) as [string, string];
          return getAtt(id, attribute);
        }
        case "Fn::Join": {
          const [separator, parts] = arg as [string, unknown[]];
          return (resolve(parts) as unknown[]).map(String).join(separator);
        }
        case "Fn::Select": {
          const [index, list] = arg as [unknown, unknown];
          return (resolve(list) as unknown[])[Number(resolve(index))];
        }
        case "Fn::Split": {
          const [separator, source] = arg as [string, unknown];
          return String(resolve(source)).split(separator);
        }
        case "Fn::Sub": {
          const [text, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [
            string,
            Record<string, unknown>,
          ];
          return text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
            if (name in variables) return String(resolve(variables[name]));
            const dot = name.indexOf(".");
            return dot > 0 && !name.startsWith("AWS::")
              ? getAtt(name.slice(0, dot), name.slice(dot + 1))
              : ref(name);
          });
        }
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };

  return resolve;
}

/** A UUID-shaped id derived from a logical id (KMS key ids are UUIDs). */
function stableUuid(logicalId: string): string {
  const h = stableId(logicalId, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}
