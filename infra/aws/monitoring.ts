import { Duration, Validations } from "aws-cdk-lib";
import type { RestApi } from "aws-cdk-lib/aws-apigateway";
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { type ITopic, Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import type { IQueue } from "aws-cdk-lib/aws-sqs";
import type { IStateMachine } from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { METRICS_NAMESPACE, SERVICE_NAME } from "./lambda-function.ts";

/**
 * Metric the task function emits (Powertools Metrics, namespace `JournalOnboarding`, dimension
 * `service`) once per 429/503 answer from Microsoft 365.
 */
export const M365_THROTTLED_METRIC = "M365Throttled";

export interface MonitoringProps {
  readonly api: RestApi;
  readonly onboarding: IStateMachine;
  readonly offboarding: IStateMachine;
  /** Dead-letter queues: any message in one is an alarm. */
  readonly deadLetterQueues: Readonly<Record<string, IQueue>>;
  /** Every function of the stack, by construct-style name. */
  readonly functions: Readonly<Record<string, IFunction>>;
  /** The stream forwarder, whose iterator age says whether webhook events are falling behind. */
  readonly streamForwarder: IFunction;
  /** Topic for alarm actions. @default - created when `alarmEmail` is set, else no actions */
  readonly alarmTopic?: ITopic;
  /** Subscribes this address to a new alarm topic. @default - none */
  readonly alarmEmail?: string;
  /** Alarm when more than this share of API requests fail with 5xx (0-1). @default 0.05 */
  readonly api5xxRateThreshold?: number;
  /** Alarm when Microsoft 365 throttles more often than this per 5 minutes, 3 periods running. @default 20 */
  readonly m365ThrottleThreshold?: number;
  /** The table: any throttled request (table or index) is an alarm. */
  readonly table: ITable;
  /** The webhook delivery queue: its oldest message's age says whether deliveries keep up. */
  readonly webhookQueue: IQueue;
  /** The API's authorizer: its errors are API requests answered 500 before any route runs. */
  readonly authorizer: IFunction;
  /** Alarm when the oldest webhook message is older than this. @default 15 minutes */
  readonly webhookAgeThreshold?: Duration;
}

const FIVE_MINUTES = Duration.minutes(5);

/** The metrics the alarms watch that the dashboard shows too. */
interface DashboardMetrics {
  requests: Metric;
  serverErrors: Metric;
  api5xxRate: MathExpression;
  m365Throttled: Metric;
  iteratorAge: Metric;
  throttledRequests: MathExpression;
  oldestWebhook: Metric;
  authorizerErrors: Metric;
}

/**
 * Alarms (what each means and what to do: docs/deploy.md) and one dashboard. Every alarm
 * notifies the alarm topic when there is one.
 */
export class Monitoring extends Construct {
  readonly alarms: Alarm[] = [];
  readonly dashboard: Dashboard;
  readonly alarmTopic: ITopic | undefined;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.alarmTopic = props.alarmTopic ?? (props.alarmEmail ? this.emailTopic(props.alarmEmail) : undefined);
    const machines: [string, IStateMachine][] = [
      ["Onboarding", props.onboarding],
      ["Offboarding", props.offboarding],
    ];
    for (const [name, machine] of machines) this.executionsFailedAlarm(name, machine);
    this.deadLetterAlarms(props.deadLetterQueues);
    const api = this.apiAlarm(props);
    this.throttleAlarms(props.functions);
    const shown: DashboardMetrics = {
      ...api,
      m365Throttled: this.m365ThrottlingAlarm(props),
      iteratorAge: this.forwarderAlarm(props.streamForwarder),
      throttledRequests: this.dynamoDbAlarm(props.table),
      oldestWebhook: this.webhookQueueAlarm(props),
      authorizerErrors: this.authorizerAlarm(props.authorizer),
    };
    this.dashboard = this.dashboardOf(props, machines, shown);
  }

  /** A topic of its own, with the address subscribed. */
  private emailTopic(alarmEmail: string): ITopic {
    const topic = new Topic(this, "AlarmTopic", {
      displayName: "Journal onboarding alarms",
      enforceSSL: true,
    });
    topic.addSubscription(new EmailSubscription(alarmEmail));
    Validations.of(topic).acknowledge({
      id: "AwsSolutions-SNS2",
      reason:
        "Alarm notifications carry alarm names and states only; CloudWatch cannot publish to a topic encrypted with the AWS-managed SNS key, and a customer-managed key for this is not worth its key policy.",
    });
    return topic;
  }

  private executionsFailedAlarm(name: string, machine: IStateMachine): void {
    this.alarm(`${name}ExecutionsFailed`, {
      description: `${name} executions failed, timed out or were aborted: a tenant is in a *_failed state.`,
      metric: new MathExpression({
        expression: "failed + timedOut + aborted",
        usingMetrics: {
          failed: machine.metricFailed({ period: FIVE_MINUTES, statistic: "Sum" }),
          timedOut: machine.metricTimedOut({ period: FIVE_MINUTES, statistic: "Sum" }),
          aborted: machine.metricAborted({ period: FIVE_MINUTES, statistic: "Sum" }),
        },
        label: `${name} executions failed`,
        period: FIVE_MINUTES,
      }),
      threshold: 1,
    });
  }

  private deadLetterAlarms(queues: Readonly<Record<string, IQueue>>): void {
    for (const [name, queue] of Object.entries(queues)) {
      this.alarm(`${name}NotEmpty`, {
        description: `${name} holds a message: something could not be delivered or forwarded after every retry.`,
        metric: queue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: "Maximum",
        }),
        threshold: 1,
      });
    }
  }

  private apiAlarm(
    props: MonitoringProps,
  ): Pick<DashboardMetrics, "requests" | "serverErrors" | "api5xxRate"> {
    const requests = props.api.metricCount({ period: FIVE_MINUTES, statistic: "Sum" });
    const serverErrors = props.api.metricServerError({ period: FIVE_MINUTES, statistic: "Sum" });
    const api5xxRate = new MathExpression({
      // Below 10 requests a single error would look like a high rate.
      expression: "IF(requests >= 10, errors / requests, 0)",
      usingMetrics: { requests, errors: serverErrors },
      label: "API 5xx rate",
      period: FIVE_MINUTES,
    });
    this.alarm("Api5xxRate", {
      description: "More than the threshold share of API requests answered 5xx, two periods running.",
      metric: api5xxRate,
      threshold: props.api5xxRateThreshold ?? 0.05,
      evaluationPeriods: 2,
    });
    return { requests, serverErrors, api5xxRate };
  }

  private throttleAlarms(functions: Readonly<Record<string, IFunction>>): void {
    for (const [name, fn] of Object.entries(functions)) {
      this.alarm(`${name}Throttles`, {
        description: `Lambda throttled ${name}: the account's or function's concurrency is exhausted.`,
        metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: "Sum" }),
        threshold: 1,
      });
    }
  }

  private m365ThrottlingAlarm(props: MonitoringProps): Metric {
    const m365Throttled = new Metric({
      namespace: METRICS_NAMESPACE,
      metricName: M365_THROTTLED_METRIC,
      dimensionsMap: { service: SERVICE_NAME },
      period: FIVE_MINUTES,
      statistic: "Sum",
    });
    this.alarm("M365Throttling", {
      description:
        "Microsoft 365 keeps throttling the tasks (429/503): onboarding is slowed and steps may fail.",
      metric: m365Throttled,
      threshold: props.m365ThrottleThreshold ?? 20,
      evaluationPeriods: 3,
    });
    return m365Throttled;
  }

  private forwarderAlarm(streamForwarder: IFunction): Metric {
    const iteratorAge = streamForwarder.metric("IteratorAge", {
      period: FIVE_MINUTES,
      statistic: "Maximum",
    });
    this.alarm("WebhookEventsBehind", {
      description:
        "The stream forwarder is more than 10 minutes behind the table's events: webhooks are late.",
      metric: iteratorAge,
      threshold: Duration.minutes(10).toMilliseconds(),
      evaluationPeriods: 2,
    });
    return iteratorAge;
  }

  private dynamoDbAlarm(table: ITable): MathExpression {
    // DynamoDB: a throttled request means a partition (of the table or of an index, whose
    // back-pressure throttles the table's writes) took more than it can; the lists are sharded so
    // that this should not happen (docs/scale.md).
    const throttledRequests = new MathExpression({
      expression: "SUM(METRICS())",
      usingMetrics: Object.fromEntries(
        (
          [
            "GetItem",
            "PutItem",
            "UpdateItem",
            "DeleteItem",
            "Query",
            "BatchGetItem",
            "BatchWriteItem",
          ] as const
        ).map((operation) => [
          operation.charAt(0).toLowerCase() + operation.slice(1),
          table.metric("ThrottledRequests", {
            dimensionsMap: { TableName: table.tableName, Operation: operation },
            period: FIVE_MINUTES,
            statistic: "Sum",
          }),
        ]),
      ),
      label: "DynamoDB throttled requests",
      period: FIVE_MINUTES,
    });
    this.alarm("DynamoDbThrottled", {
      description:
        "DynamoDB throttled requests to the table or an index: a hot partition or a burst beyond on-demand's headroom. See docs/scale.md.",
      metric: throttledRequests,
      threshold: 1,
    });
    return throttledRequests;
  }

  private webhookQueueAlarm(props: MonitoringProps): Metric {
    const oldestWebhook = props.webhookQueue.metricApproximateAgeOfOldestMessage({
      period: FIVE_MINUTES,
      statistic: "Maximum",
    });
    this.alarm("WebhookDeliveriesOld", {
      description:
        "The oldest webhook delivery message has waited longer than the threshold: deliveries are not keeping up (or a receiver keeps one tenant's deliveries retrying).",
      metric: oldestWebhook,
      threshold: (props.webhookAgeThreshold ?? Duration.minutes(15)).toSeconds(),
      evaluationPeriods: 2,
    });
    return oldestWebhook;
  }

  private authorizerAlarm(authorizer: IFunction): Metric {
    const authorizerErrors = authorizer.metricErrors({ period: FIVE_MINUTES, statistic: "Sum" });
    this.alarm("AuthorizerErrors", {
      description:
        "The API's authorizer failed (not a refused key: an error): API Gateway answered those requests 500.",
      metric: authorizerErrors,
      threshold: 1,
    });
    return authorizerErrors;
  }

  private dashboardOf(
    props: MonitoringProps,
    machines: [string, IStateMachine][],
    {
      requests,
      serverErrors,
      api5xxRate,
      m365Throttled,
      iteratorAge,
      throttledRequests,
      oldestWebhook,
      authorizerErrors,
    }: DashboardMetrics,
  ): Dashboard {
    return new Dashboard(this, "Dashboard", {
      widgets: [
        [
          new TextWidget({
            markdown: "# Journal onboarding\nAlarms and runbook: docs/deploy.md",
            width: 24,
            height: 2,
          }),
        ],
        [
          new GraphWidget({ title: "API requests", left: [requests, serverErrors], width: 8 }),
          new GraphWidget({ title: "API 5xx rate", left: [api5xxRate], width: 8 }),
          new GraphWidget({
            title: "API latency p99",
            left: [props.api.metricLatency({ statistic: "p99" })],
            width: 8,
          }),
        ],
        machines.map(
          ([name, m]) =>
            new GraphWidget({
              title: `${name} executions`,
              left: [m.metricStarted(), m.metricSucceeded(), m.metricFailed(), m.metricTimedOut()],
              width: 12,
            }),
        ),
        [
          new GraphWidget({
            title: "Dead-letter queues",
            left: Object.values(props.deadLetterQueues).map((q) =>
              q.metricApproximateNumberOfMessagesVisible(),
            ),
            width: 8,
          }),
          new GraphWidget({ title: "Webhook forwarder iterator age", left: [iteratorAge], width: 8 }),
          new GraphWidget({ title: "Microsoft 365 throttling", left: [m365Throttled], width: 8 }),
        ],
        [
          new GraphWidget({ title: "DynamoDB throttled requests", left: [throttledRequests], width: 8 }),
          new GraphWidget({ title: "Oldest webhook message (s)", left: [oldestWebhook], width: 8 }),
          new GraphWidget({ title: "Authorizer errors", left: [authorizerErrors], width: 8 }),
        ],
        [
          new GraphWidget({
            title: "Lambda errors",
            left: Object.values(props.functions).map((fn) => fn.metricErrors({ period: FIVE_MINUTES })),
            width: 12,
          }),
          new GraphWidget({
            title: "Lambda throttles",
            left: Object.values(props.functions).map((fn) => fn.metricThrottles({ period: FIVE_MINUTES })),
            width: 12,
          }),
        ],
      ],
    });
  }

  private alarm(
    id: string,
    props: {
      description: string;
      metric: Metric | MathExpression;
      threshold: number;
      evaluationPeriods?: number;
    },
  ): Alarm {
    const alarm = new Alarm(this, id, {
      alarmDescription: props.description,
      metric: props.metric,
      threshold: props.threshold,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    if (this.alarmTopic) alarm.addAlarmAction(new SnsAction(this.alarmTopic));
    this.alarms.push(alarm);
    return alarm;
  }
}
