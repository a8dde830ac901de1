import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import { type IKey, Key } from "aws-cdk-lib/aws-kms";
import { RetentionDays } from "aws-cdk-lib/aws-logs";
import type { ITopic } from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { M365_CLOUDS, type M365Cloud, type M365Endpoints } from "../../functions/commons/config.ts";
import { M365Credentials } from "./m365-credentials.ts";
import { Monitoring } from "./monitoring.ts";
import { OnboardingApi } from "./onboarding-api.ts";
import { OnboardingWorkflow } from "./onboarding-workflow.ts";
import { TenantTable } from "./tenant-table.ts";
import { WebhookDelivery } from "./webhook-delivery.ts";

/** Instances reserved per function (none of them can starve the others, or take theirs). */
export interface ReservedConcurrency {
  api: number;
  authorizer: number;
  webhookDispatcher: number;
}

export const DEFAULT_RESERVED_CONCURRENCY: ReservedConcurrency = {
  api: 100,
  authorizer: 50,
  webhookDispatcher: 20,
};

export interface JournalOnboardingStackProps extends StackProps {
  /** Microsoft national cloud of the customers' tenants (`M365_CLOUD`). @default "global" */
  readonly m365Cloud?: M365Cloud;
  /** Explicit endpoints overriding `m365Cloud` (`M365_AUTHORITY_HOST`, ...). @default - those of `m365Cloud` */
  readonly m365Endpoints?: Partial<M365Endpoints>;
  /**
   * The multi-tenant app's application (client) id, not a secret: the API puts it in the consent
   * links it issues to partners (`M365_CLIENT_ID` of the API function only; the tasks read the
   * app's credentials secret). Without it, tenants can only be bound by ops (`bindTenant`).
   * @default - none
   */
  readonly m365ClientId?: string;
  /**
   * Where Entra's admin consent sends the admin back (`M365_CONSENT_REDIRECT_URI`), e.g. with a
   * custom domain; it must be a redirect URI of the Entra app. @default - the API's own
   * `/v1/consent/callback` at the domain the request came to
   */
  readonly consentRedirectUri?: string;
  /** Time between two drift checks of a tenant (`30m`, `6h`, `1d`; `0`: no schedule). @default "6h" */
  readonly driftCheckInterval?: string;
  /** Remediation runs a drift check may start per tenant in 24 hours. @default 3 */
  readonly driftRemediationsPerDay?: number;
  /**
   * Seconds a tenant `queued`, `running` or `offboarding` with no live execution stays so before
   * the stranded-run sweep records it INTERRUPTED (`STRANDED_AFTER_SECONDS`). @default 300
   */
  readonly strandedAfterSeconds?: number;
  /** Days events, settled webhook deliveries and audit entries are kept (`EVENT_RETENTION_DAYS`). @default 90 */
  readonly eventRetentionDays?: number;
  /** Days an offboarded tenant's record is kept after offboarding (`OFFBOARDED_RETENTION_DAYS`). @default 30 */
  readonly offboardedRetentionDays?: number;
  /** Alarm notifications go to this address (a new SNS topic). @default - none */
  readonly alarmEmail?: string;
  /** Alarm notifications go to this existing topic. @default - none */
  readonly alarmTopic?: ITopic;
  /**
   * The KMS key that encrypts partners' webhook secrets in the table. Only the webhook
   * dispatcher may decrypt with it; the API function may only encrypt. @default - a key of this
   * stack (rotated yearly): AWS-managed keys cannot be used by an application's own code
   */
  readonly webhookSecretKey?: IKey;
  /** Customer-managed key for the table. @default - AWS-managed key */
  readonly tableEncryptionKey?: IKey;
  /** The same, as a key ARN (context `tableEncryptionKeyArn`). @default - none */
  readonly tableEncryptionKeyArn?: string;
  /** `webhookSecretKey` as a key ARN (context `webhookSecretKeyArn`). @default - none */
  readonly webhookSecretKeyArn?: string;
  /** Regional WAFv2 web ACL for the API stage. @default - none */
  readonly webAclArn?: string;
  /**
   * API stage throttling, all callers together: the account's safety net, not a partner's
   * limit (each partner's usage plan binds first). @default 10 requests/s per reserved instance
   * of the API function, burst 20 (1000/s, burst 2000 with the default 100 or none reserved)
   */
  readonly apiThrottling?: { rateLimit: number; burstLimit: number };
  /** The ops key's limit (its usage plan). @default 50 requests/s, burst 100 */
  readonly opsRateLimit?: { rateLimit: number; burstLimit: number };
  /** Each partner's own request limit (API Gateway usage plan, per partner key). @default 25 requests/s, burst 50 */
  readonly partnerRateLimit?: { rateLimit: number; burstLimit: number };
  /**
   * Reserved concurrency of the API function, the authorizer and the webhook dispatcher (each
   * left out keeps its default); `null` for none (an account whose concurrency quota is too low
   * to reserve any). @default { api: 100, authorizer: 50, webhookDispatcher: 20 }
   */
  readonly reservedConcurrency?: Partial<ReservedConcurrency> | null;
  /**
   * The table's global secondary indexes by name, for an upgrade in steps (docs/deploy.md).
   * @default - this version's indexes
   */
  readonly tableIndexes?: readonly string[];
  /** Retention of every log group. @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
}

/** The customers' Microsoft 365 cloud and any endpoints given explicitly. */
interface M365Settings {
  cloud: M365Cloud;
  endpoints: Partial<M365Endpoints>;
}

/**
 * The whole service on AWS: API Gateway -> API function -> Step Functions workflows -> task
 * functions -> the tenant table, whose stream feeds webhook delivery. Environment-agnostic:
 * it synthesises without credentials and deploys to whatever account and region the CLI uses.
 */
export class JournalOnboardingStack extends Stack {
  readonly table: TenantTable;
  readonly credentials: M365Credentials;
  readonly workflow: OnboardingWorkflow;
  readonly webhooks: WebhookDelivery;
  readonly api: OnboardingApi;
  readonly monitoring: Monitoring;
  readonly webhookSecretKey: IKey;

  constructor(scope: Construct, id: string, props: JournalOnboardingStackProps = {}) {
    super(scope, id, {
      description: "Journal onboarding: onboards Microsoft 365 tenants to journaling",
      ...props,
    });
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const m365Cloud = props.m365Cloud ?? "global";
    if (!(m365Cloud in M365_CLOUDS)) {
      throw new Error(`m365Cloud must be one of ${Object.keys(M365_CLOUDS).join(", ")}; got ${m365Cloud}`);
    }
    const m365 = { cloud: m365Cloud, endpoints: props.m365Endpoints ?? {} };
    this.table = this.tenantTable(props);
    this.credentials = new M365Credentials(this, "M365Credentials");
    this.workflow = this.onboardingWorkflow(props, m365, logRetention);
    const reserved =
      props.reservedConcurrency === null
        ? null
        : { ...DEFAULT_RESERVED_CONCURRENCY, ...props.reservedConcurrency };
    this.webhooks = new WebhookDelivery(this, "Webhooks", {
      table: this.table,
      logRetention,
      reservedConcurrency: reserved ? reserved.webhookDispatcher : null,
    });
    this.api = this.onboardingApi(props, m365, reserved, logRetention);
    this.webhookSecretKey = this.webhookSecrets(props);
    this.setRetention(props);
    this.monitoring = this.monitoringOf(props);
    this.outputs();
  }

  private tenantTable(props: JournalOnboardingStackProps): TenantTable {
    const tableKey =
      props.tableEncryptionKey ??
      (props.tableEncryptionKeyArn
        ? Key.fromKeyArn(this, "TableKey", props.tableEncryptionKeyArn)
        : undefined);
    return new TenantTable(this, "Tenants", {
      ...(tableKey && { encryptionKey: tableKey }),
      ...(props.tableIndexes && { indexes: props.tableIndexes }),
    });
  }

  /** The workflows and their task function, which reaches Microsoft 365 in the customers' cloud. */
  private onboardingWorkflow(
    props: JournalOnboardingStackProps,
    { cloud: m365Cloud, endpoints }: M365Settings,
    logRetention: RetentionDays,
  ): OnboardingWorkflow {
    return new OnboardingWorkflow(this, "Workflow", {
      table: this.table,
      credentials: this.credentials,
      logRetention,
      ...(props.driftCheckInterval !== undefined && { driftCheckInterval: props.driftCheckInterval }),
      ...(props.driftRemediationsPerDay !== undefined && {
        driftRemediationsPerDay: props.driftRemediationsPerDay,
      }),
      ...(props.strandedAfterSeconds !== undefined && { strandedAfterSeconds: props.strandedAfterSeconds }),
      taskEnvironment: {
        M365_CLOUD: m365Cloud,
        ...(endpoints.authorityHost ? { M365_AUTHORITY_HOST: endpoints.authorityHost } : {}),
        ...(endpoints.graph ? { M365_GRAPH_ENDPOINT: endpoints.graph } : {}),
        ...(endpoints.exchange ? { M365_EXCHANGE_ENDPOINT: endpoints.exchange } : {}),
      },
    });
  }

  /** The REST API, its limits and its consent-link settings. */
  private onboardingApi(
    props: JournalOnboardingStackProps,
    { cloud: m365Cloud, endpoints }: M365Settings,
    reserved: ReservedConcurrency | null,
    logRetention: RetentionDays,
  ): OnboardingApi {
    return new OnboardingApi(this, "Api", {
      table: this.table,
      onboarding: this.workflow.onboarding,
      offboarding: this.workflow.offboarding,
      driftCheck: this.workflow.driftCheck,
      webhookQueue: this.webhooks.queue,
      logRetention,
      reservedConcurrency: reserved ? { api: reserved.api, authorizer: reserved.authorizer } : null,
      credentials: this.credentials,
      consent: {
        M365_CLOUD: m365Cloud,
        ...(endpoints.authorityHost ? { M365_AUTHORITY_HOST: endpoints.authorityHost } : {}),
        ...(props.m365ClientId ? { M365_CLIENT_ID: props.m365ClientId } : {}),
        ...(props.consentRedirectUri ? { M365_CONSENT_REDIRECT_URI: props.consentRedirectUri } : {}),
      },
      ...(props.partnerRateLimit ? { partnerRateLimit: props.partnerRateLimit } : {}),
      ...(props.opsRateLimit ? { opsRateLimit: props.opsRateLimit } : {}),
      ...(props.webAclArn ? { webAclArn: props.webAclArn } : {}),
      // What the API function's reserved instances serve (about 100 ms a request), unless given.
      throttlingRateLimit:
        props.apiThrottling?.rateLimit ?? 10 * (reserved?.api ?? DEFAULT_RESERVED_CONCURRENCY.api),
      throttlingBurstLimit:
        props.apiThrottling?.burstLimit ?? 20 * (reserved?.api ?? DEFAULT_RESERVED_CONCURRENCY.api),
    });
  }

  /** Webhook secrets: sealed by the API (Encrypt), opened only by the signing code (Decrypt). */
  private webhookSecrets(props: JournalOnboardingStackProps): IKey {
    const key =
      props.webhookSecretKey ??
      (props.webhookSecretKeyArn
        ? Key.fromKeyArn(this, "WebhookKey", props.webhookSecretKeyArn)
        : undefined) ??
      new Key(this, "WebhookSecretKey", {
        description: "Encrypts partners' webhook signing secrets; only the webhook dispatcher decrypts",
        enableKeyRotation: true,
      });
    key.grant(this.api.handler, "kms:Encrypt");
    key.grantDecrypt(this.webhooks.dispatcher);
    this.api.handler.addEnvironment("WEBHOOK_SECRET_KEY_ID", key.keyArn);
    this.webhooks.dispatcher.addEnvironment("WEBHOOK_SECRET_KEY_ID", key.keyArn);

    return key;
  }

  /** Every function that writes events, deliveries or tenants sets their TTLs from these. */
  private setRetention(props: JournalOnboardingStackProps): void {
    const retention = {
      ...(props.eventRetentionDays !== undefined && {
        EVENT_RETENTION_DAYS: String(props.eventRetentionDays),
      }),
      ...(props.offboardedRetentionDays !== undefined && {
        OFFBOARDED_RETENTION_DAYS: String(props.offboardedRetentionDays),
      }),
    };
    for (const fn of [
      this.api.handler,
      this.webhooks.dispatcher,
      this.webhooks.streamForwarder,
      this.workflow.watchdog,
      this.workflow.strandedSweep,
      this.workflow.task,
    ]) {
      for (const [name, value] of Object.entries(retention)) fn.addEnvironment(name, value);
    }
  }

  private monitoringOf(props: JournalOnboardingStackProps): Monitoring {
    return new Monitoring(this, "Monitoring", {
      api: this.api.api,
      onboarding: this.workflow.onboarding,
      offboarding: this.workflow.offboarding,
      deadLetterQueues: {
        WebhookDeadLetterQueue: this.webhooks.deadLetterQueue,
        WebhookStreamFailureQueue: this.webhooks.streamFailureQueue,
        WatchdogDeadLetterQueue: this.workflow.watchdogDeadLetterQueue,
      },
      table: this.table.table,
      webhookQueue: this.webhooks.queue,
      authorizer: this.api.authorizer,
      functions: {
        Api: this.api.handler,
        Authorizer: this.api.authorizer,
        WebhookDispatcher: this.webhooks.dispatcher,
        WebhookStreamForwarder: this.webhooks.streamForwarder,
        ExecutionWatchdog: this.workflow.watchdog,
        DriftFanOut: this.workflow.driftFanOut,
        StrandedSweep: this.workflow.strandedSweep,
        WorkflowTask: this.workflow.task,
      },
      streamForwarder: this.webhooks.streamForwarder,
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
      ...(props.alarmEmail ? { alarmEmail: props.alarmEmail } : {}),
    });
  }

  private outputs(): void {
    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output("ApiUrl", this.api.url, "Base URL of the REST API (append health or v1/...)");
    output("TableName", this.table.table.tableName, "The tenant table");
    output(
      "M365SecretArn",
      this.credentials.secret.secretArn,
      "Fill in {clientId, clientCertificate} after deploy",
    );
    output("OpsApiKeySecretArn", this.api.opsApiKey.secretArn, "The ops API key (generated)");
    output("OnboardingStateMachineArn", this.workflow.onboarding.stateMachineArn, "Onboarding workflow");
    output("OffboardingStateMachineArn", this.workflow.offboarding.stateMachineArn, "Offboarding workflow");
    output("WebhookQueueUrl", this.webhooks.queue.queueUrl, "Webhook delivery queue (FIFO)");
    output("DashboardName", this.monitoring.dashboard.dashboardName, "CloudWatch dashboard");
    if (this.monitoring.alarmTopic) {
      output("AlarmTopicArn", this.monitoring.alarmTopic.topicArn, "SNS topic of the alarms");
    }
  }
}
