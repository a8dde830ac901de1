/** The template's EventBridge rules (AWS::Events::Rule), intrinsics resolved. */
import type { Assembly } from "../template.ts";

export interface TargetModel {
  id: string;
  arn: string;
  /** Constant input (`Input`), instead of the event. */
  input?: unknown;
  /** @default 185 (EventBridge's) */
  maximumRetryAttempts: number;
  /** @default 86400 (EventBridge's) */
  maximumEventAgeSeconds: number;
  deadLetterArn?: string;
}

export interface RuleModel {
  logicalId: string;
  name: string;
  arn: string;
  enabled: boolean;
  scheduleExpression?: string;
  eventPattern?: Record<string, unknown>;
  targets: TargetModel[];
}

export function readRules(assembly: Assembly): RuleModel[] {
  return assembly.ofType("AWS::Events::Rule").map(([logicalId, resource]) => {
    const p = assembly.resolve(resource.Properties ?? {}) as Record<string, unknown>;
    const pattern = typeof p["EventPattern"] === "string" ? JSON.parse(p["EventPattern"]) : p["EventPattern"];
    return {
      logicalId,
      name: assembly.ref(logicalId),
      arn: assembly.getAtt(logicalId, "Arn"),
      enabled: p["State"] !== "DISABLED",
      ...(typeof p["ScheduleExpression"] === "string" && { scheduleExpression: p["ScheduleExpression"] }),
      ...(pattern && { eventPattern: pattern as Record<string, unknown> }),
      targets: ((p["Targets"] ?? []) as Record<string, unknown>[]).map((t) => {
        if (t["InputPath"] !== undefined || t["InputTransformer"] !== undefined) {
          throw new Error(`${logicalId}: InputPath and InputTransformer are not supported by the AWS form`);
        }
        const retry = (t["RetryPolicy"] ?? {}) as Record<string, unknown>;
        const dlq = (t["DeadLetterConfig"] ?? {}) as Record<string, unknown>;
        return {
          id: String(t["Id"]),
          arn: String(t["Arn"]),
          ...(typeof t["Input"] === "string" && { input: JSON.parse(t["Input"]) }),
          maximumRetryAttempts: Number(retry["MaximumRetryAttempts"] ?? 185),
          maximumEventAgeSeconds: Number(retry["MaximumEventAgeInSeconds"] ?? 86_400),
          ...(typeof dlq["Arn"] === "string" && { deadLetterArn: dlq["Arn"] }),
        };
      }),
    };
  });
}
