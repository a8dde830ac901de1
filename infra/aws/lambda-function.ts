import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { Role, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { acknowledgeWildcard, attrRef } from "./nag.ts";

/** The repository root: Lambda entries are given relative to it, and its lock file pins the bundle. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Powertools service name shared by every function, so one metric dimension covers them all. */
export const SERVICE_NAME = "journal-onboarding";

/** CloudWatch namespace of the application's own metrics (Powertools Metrics). */
export const METRICS_NAMESPACE = "JournalOnboarding";

/**
 * esbuild emits ESM; CommonJS dependencies inside the bundle call `require` for Node built-ins,
 * which ESM does not define. The alias avoids clashing with a bundled `createRequire` import.
 */
const ESM_REQUIRE_SHIM =
  "import { createRequire as __journalCreateRequire } from 'node:module'; const require = __journalCreateRequire(import.meta.url);";

/**
 * Left out of every bundle: the AWS SDK's credential providers for profiles, SSO, credential
 * processes and web identity, with the STS/SSO clients they bring (about 80 KiB minified, 8%
 * of the task function's bundle). The default provider chain imports them dynamically, and
 * only after the environment variables that Lambda always sets have failed to give
 * credentials; so they are never loaded in Lambda.
 */
export const UNREACHABLE_IN_LAMBDA = [
  "@aws-sdk/credential-provider-ini",
  "@aws-sdk/credential-provider-process",
  "@aws-sdk/credential-provider-sso",
  "@aws-sdk/credential-provider-web-identity",
];

export interface LambdaFunctionProps {
  /** Handler file, relative to the repository root (e.g. `functions/api/handler.ts`); it exports `handler`. */
  readonly entry: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /**
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * More memory also means more CPU, which shortens cold starts of the Microsoft 365 clients.
   * @default 512
   */
  readonly memorySize?: number;
  /** Extra environment variables. @default - none beyond the Powertools ones */
  readonly environment?: Record<string, string>;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /**
   * Logs are the record of what was changed in customers' tenants: keep them with the stack gone.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /** Powertools `POWERTOOLS_SERVICE_NAME`. @default SERVICE_NAME ("journal-onboarding") */
  readonly serviceName?: string;
  /**
   * Folders (or single files) copied into the bundle beside `index.mjs`: `from` is relative to
   * the repository root, `to` to the bundle (e.g. the console's static files, read at run time).
   * @default - none
   */
  readonly bundleFolders?: readonly { from: string; to: string }[];
}

/** Access a function gets to the table. */
export type TableAccess = "read" | "readWrite";

/**
 * A Lambda function with the project's fixed choices: Node.js 24 on arm64, X-Ray active
 * tracing, its own log group with retention, an ESM bundle built by the local esbuild
 * (minified, with source maps, AWS SDK included so the locked versions run), and a role that
 * can write only to that log group. `bindTable` and `bindSecret` wire a resource in one call.
 *
 * @example
 * const fn = new LambdaFunction(this, "Api", { entry: "functions/api/handler.ts", description: "REST API" });
 * fn.bindTable(table.table);
 */
export class LambdaFunction extends NodejsFunction {
  /** The execution role (the same as `role`, typed as always present). */
  readonly executionRole: Role;

  constructor(scope: Construct, id: string, props: LambdaFunctionProps) {
    const logGroup = new LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    // An explicit role instead of AWSLambdaBasicExecutionRole: logs go to this group only.
    const role = new Role(scope, `${id}Role`, {
      assumedBy: new ServicePrincipal("lambda.amazonaws.com"),
      description: `Execution role of ${id}`,
    });
    super(scope, id, {
      entry: isAbsolute(props.entry) ? props.entry : join(REPO_ROOT, props.entry),
      handler: "handler",
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      tracing: Tracing.ACTIVE,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      logGroup,
      role,
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, "package-lock.json"),
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        POWERTOOLS_SERVICE_NAME: props.serviceName ?? SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: ["module", "main"],
        target: "node24",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        banner: ESM_REQUIRE_SHIM,
        bundleAwsSDK: true,
        externalModules: UNREACHABLE_IN_LAMBDA,
        forceDockerBundling: false,
        ...(props.bundleFolders?.length && {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (inputDir: string, outputDir: string) =>
              (props.bundleFolders ?? []).map(
                ({ from, to }) =>
                  `mkdir -p "${dirname(join(outputDir, to))}" && cp -R "${join(inputDir, from)}" "${join(outputDir, to)}"`,
              ),
          },
        }),
      },
    });
    logGroup.grantWrite(role);
    this.executionRole = role;
    acknowledgeWildcard(
      role,
      "*",
      "X-Ray's PutTraceSegments and PutTelemetryRecords (active tracing) have no resource-level permissions.",
    );
  }

  /**
   * Sets `TABLE_NAME` (or `envVarName`) and grants access to the table and its indexes.
   * @param access @default "readWrite"
   * @param envVarName @default "TABLE_NAME"
   */
  bindTable(table: ITable, access: TableAccess = "readWrite", envVarName = "TABLE_NAME"): void {
    this.addEnvironment(envVarName, table.tableName);
    if (access === "readWrite") table.grantReadWriteData(this);
    else table.grantReadData(this);
    acknowledgeWildcard(
      this.executionRole,
      `${attrRef(table)}/index/*`,
      "Table grants cover the table's global secondary indexes (gsi3, gsi4), all of which the store queries.",
    );
  }

  /** Sets `envVarName` to the secret's ARN and lets the function read its value (at cold start). */
  bindSecret(secret: ISecret, envVarName: string): void {
    this.addEnvironment(envVarName, secret.secretArn);
    secret.grantRead(this);
  }
}
