/**
 * The deployed form run here (`npm run start:aws`): the seams between its parts. The stack as
 * `cdk synth` writes it (`cdk.out`) is the source of truth; each part reads what it needs from
 * the template and talks to the others only through these interfaces:
 *
 * - `lambda/`: Lambda-like environments running each function's bundled asset (`Invoke`);
 * - `cloud/`: the AWS endpoint every function's SDK calls reach (`AWS_ENDPOINT_URL`), which
 *   checks each call against the calling function's IAM policy and serves DynamoDB (DynamoDB
 *   Local, with Streams), SQS FIFO, KMS, Secrets Manager and the API Gateway management calls,
 *   and hands Step Functions calls to `stepfunctions/`; the event source mappings (stream ->
 *   forwarder, queue -> dispatcher);
 * - `apigateway/`: the REST API as the template defines it, in front, on `PORT`;
 * - `stepfunctions/`: the template's state machines in aws-local-stepfunctions, Task states
 *   invoking the Lambda environments;
 * - `events/`: EventBridge rules of the template (schedules with their scheduled `time`, the
 *   execution status change pattern).
 */

/** A CloudFormation template as `cdk synth` writes it. */
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, { Value: unknown }>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
}

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Metadata?: Record<string, unknown>;
}

/** Turns CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, ...) into local values. */
export type Resolve = (value: unknown) => unknown;

/** The account, region and partition the local cloud pretends to be. */
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "us-east-1";
export const LOCAL_PARTITION = "aws";

/** What an invocation of a Lambda function gave: its JSON result, or the error Lambda reports. */
export type InvokeResult =
  | { ok: true; payload: unknown }
  | {
      ok: false;
      /** As Lambda reports it: the thrown error's name, `Sandbox.Timedout`, `Runtime.ExitError`, ... */
      errorType: string;
      errorMessage: string;
      trace?: string[];
      /**
       * The invocation never ran: Lambda refused it (`TooManyRequestsException` past the
       * function's reserved or the account's concurrency). Step Functions reports it as
       * `Lambda.TooManyRequestsException`.
       */
      refused?: boolean;
    };

/**
 * Invokes a function of the template by its logical id (e.g. `WorkflowWorkflowTask1A2B3C4D`),
 * or by its local ARN. The event goes through JSON as in Lambda.
 */
export type Invoke = (functionRef: string, event: unknown) => Promise<InvokeResult>;

/** One AWS API call as the cloud endpoint received it, after its IAM check passed. */
export interface AwsRequest {
  /** The SigV4 credential scope's service: `dynamodb`, `states`, `sqs`, `kms`, `secretsmanager`, `apigateway`, ... */
  service: string;
  /** `X-Amz-Target` (JSON protocols), e.g. `AWSStepFunctions.StartExecution`; undefined for REST/query protocols. */
  target?: string;
  method: string;
  /** Path and query string as sent. */
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  /** The logical id of the function whose role made the call. */
  caller: string;
}

export interface AwsResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

/** A service behind the cloud endpoint (Step Functions, API Gateway management, ...). */
export type AwsServiceHandler = (request: AwsRequest) => Promise<AwsResponse>;

/** An AWS-shaped error answer of a JSON-protocol service (`__type` and `message`). */
export function awsJsonError(status: number, type: string, message: string): AwsResponse {
  return {
    status,
    headers: { "content-type": "application/x-amz-json-1.0", "x-amzn-errortype": type },
    body: JSON.stringify({ __type: type, message }),
  };
}

/** Something started with the form and stopped with it, in reverse order. */
export interface Part {
  close(): Promise<void>;
}
