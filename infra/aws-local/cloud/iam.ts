/**
 * IAM here: every call a function's SDK makes is evaluated against the identity policies of
 * the function's role (the template's AWS::IAM::Policy resources attached to it, resolved) and
 * the resource's policy where the template gives one (KMS key policies, SQS queue policies),
 * conditions included, by @cloud-copilot/iam-simulate. Decisions are cached per request shape.
 */
import { runSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import { LOCAL_ACCOUNT, LOCAL_PARTITION } from "../contracts.ts";
import type { Assembly } from "../template.ts";

/** One authorization a call needs (a batch call may need several). */
export interface Authorization {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

export interface Decision {
  allowed: boolean;
  /** The AccessDeniedException message AWS gives (when refused). */
  message?: string;
}

type Policy = { Version?: string; Statement: unknown[] };

export interface IamChecker {
  check(roleArn: string, sessionName: string, authorization: Authorization): Promise<Decision>;
}

export function createIamChecker(assembly: Assembly): IamChecker {
  const identity = new Map<string, { name: string; policy: Policy }[]>();
  const roleArnOf = (roleName: string) => `arn:${LOCAL_PARTITION}:iam::${LOCAL_ACCOUNT}:role/${roleName}`;
  for (const [id, resource] of assembly.ofType("AWS::IAM::Policy")) {
    const p = assembly.resolve(resource.Properties ?? {}) as {
      PolicyName?: string;
      PolicyDocument: Policy;
      Roles?: string[];
    };
    for (const role of p.Roles ?? []) {
      const list = identity.get(roleArnOf(role)) ?? [];
      list.push({ name: p.PolicyName ?? id, policy: { Version: "2012-10-17", ...p.PolicyDocument } });
      identity.set(roleArnOf(role), list);
    }
  }
  const resourcePolicies = new Map<string, Policy>();
  for (const [id, resource] of assembly.ofType("AWS::KMS::Key")) {
    const policy = assembly.resolve(resource.Properties?.["KeyPolicy"]) as Policy | undefined;
    if (policy) resourcePolicies.set(assembly.getAtt(id, "Arn"), policy);
  }
  for (const [, resource] of assembly.ofType("AWS::SQS::QueuePolicy")) {
    const p = assembly.resolve(resource.Properties ?? {}) as { PolicyDocument: Policy; Queues: string[] };
    for (const url of p.Queues) {
      const name = url.slice(url.lastIndexOf("/") + 1);
      resourcePolicies.set(
        `arn:${LOCAL_PARTITION}:sqs:${assembly.resolve({ Ref: "AWS::Region" })}:${LOCAL_ACCOUNT}:${name}`,
        p.PolicyDocument,
      );
    }
  }
  const cache = new Map<string, Decision>();

  return {
    async check(roleArn, sessionName, authorization) {
      const key = JSON.stringify([roleArn, authorization]);
      const cached = cache.get(key);
      if (cached) return cached;
      const roleName = roleArn.slice(roleArn.lastIndexOf("/") + 1);
      const principal = `arn:${LOCAL_PARTITION}:sts::${LOCAL_ACCOUNT}:assumed-role/${roleName}/${sessionName}`;
      const resourcePolicy = resourcePolicies.get(authorization.resource);
      const simulation: Simulation = {
        request: {
          principal,
          action: authorization.action,
          resource: { resource: authorization.resource, accountId: LOCAL_ACCOUNT },
          // The functions' SDKs reach AWS over TLS.
          contextVariables: { "aws:SecureTransport": "true", ...authorization.context },
        },
        identityPolicies: identity.get(roleArn) ?? [],
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        ...(resourcePolicy ? { resourcePolicy } : {}),
      };
      const result = await runSimulation(simulation, {});
      const allowed = result.resultType === "single" && result.overallResult === "Allowed";
      const decision: Decision = allowed
        ? { allowed }
        : {
            allowed,
            message:
              result.resultType === "error"
                ? `Policy evaluation failed: ${result.errors.message}`
                : `User: ${principal} is not authorized to perform: ${authorization.action} on resource: ${authorization.resource} because no identity-based policy allows the ${authorization.action} action`,
          };
      if (cache.size > 10_000) cache.clear();
      cache.set(key, decision);
      return decision;
    },
  };
}
