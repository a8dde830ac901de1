/**
 * Reading a rendered definition: its Task states (nested branches included), for the local
 * engine, the cost benchmark and the tests.
 */

type Json = Record<string, unknown>;
type States = Record<string, Json>;

/** Every Task state of a definition (nested branches included) with its Resource, Retry and Parameters. */
export function taskStates(
  definition: Json,
): { state: string; resource: string; retry: Json[]; parameters: Json }[] {
  const out: { state: string; resource: string; retry: Json[]; parameters: Json }[] = [];
  const walk = (states: States) => {
    for (const [state, body] of Object.entries(states)) {
      if (body.Type === "Task") {
        out.push({
          state,
          resource: String(body.Resource),
          retry: (body.Retry as Json[]) ?? [],
          parameters: (body.Parameters as Json) ?? {},
        });
      }
      for (const branch of (body.Branches as { States: States }[]) ?? []) walk(branch.States);
    }
  };
  walk(definition.States as States);
  return out;
}
