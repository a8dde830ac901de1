/**
 * The template's state machines: ARN, name, type and the definition as Step Functions gets it
 * (DefinitionString resolved, DefinitionSubstitutions applied).
 */
import type { Assembly } from "../template.ts";

export interface StateMachineModel {
  logicalId: string;
  arn: string;
  name: string;
  type: "STANDARD" | "EXPRESS";
  roleArn?: string;
  definition: Record<string, unknown>;
}

export function readStateMachines(assembly: Assembly): StateMachineModel[] {
  return assembly.ofType("AWS::StepFunctions::StateMachine").map(([logicalId, resource]) => {
    const props = resource.Properties ?? {};
    let text =
      typeof props["DefinitionString"] === "string"
        ? props["DefinitionString"]
        : String(assembly.resolve(props["DefinitionString"] ?? JSON.stringify(props["Definition"] ?? {})));
    const substitutions = (assembly.resolve(props["DefinitionSubstitutions"] ?? {}) ?? {}) as Record<
      string,
      unknown
    >;
    for (const [key, value] of Object.entries(substitutions))
      text = text.replaceAll(`\${${key}}`, String(value));
    const role = assembly.resolve(props["RoleArn"]);
    return {
      logicalId,
      arn: assembly.ref(logicalId),
      name: assembly.getAtt(logicalId, "Name"),
      type: props["StateMachineType"] === "EXPRESS" ? "EXPRESS" : "STANDARD",
      ...(typeof role === "string" && { roleArn: role }),
      definition: JSON.parse(text) as Record<string, unknown>,
    };
  });
}

/** Every Task state (Parallel branches and Map iterators included) with its Resource and Retry. */
export function taskStatesOf(
  definition: Record<string, unknown>,
): { state: string; resource: string; retry: Record<string, unknown>[] }[] {
  const out: { state: string; resource: string; retry: Record<string, unknown>[] }[] = [];
  const walk = (states: Record<string, Record<string, unknown>>) => {
    for (const [state, body] of Object.entries(states)) {
      if (body["Type"] === "Task") {
        out.push({
          state,
          resource: String(body["Resource"]),
          retry: (body["Retry"] as Record<string, unknown>[]) ?? [],
        });
      }
      for (const branch of (body["Branches"] as { States: typeof states }[]) ?? []) walk(branch.States);
      const iterator = (body["ItemProcessor"] ?? body["Iterator"]) as { States: typeof states } | undefined;
      if (iterator) walk(iterator.States);
    }
  };
  walk(definition["States"] as Record<string, Record<string, unknown>>);
  return out;
}

/** A Task's Lambda function: its ARN as Resource, or `arn:aws:states:::lambda:invoke` with FunctionName. */
export function isLambdaArn(resource: string): boolean {
  return /^arn:[^:]+:lambda:[^:]+:\d+:function:/.test(resource);
}
