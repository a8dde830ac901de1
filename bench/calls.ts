/**
 * Benchmark 2: Microsoft 365 requests per onboarding, from the simulator's call log: token
 * requests, reads (Graph GETs, Get-/Validate- cmdlets) and writes (New-/Set-/Add-/Enable-
 * cmdlets), for a fresh tenant in every mode, then for a re-run of the whole workflow on the
 * finished tenant (every succeeded step back to pending, as test/workflow.test.ts does), where
 * desired state means no write at all.
 *
 * Tokens are cached per tenant and resource in the process, so a re-run in the same process
 * asks for none; on AWS each Lambda environment keeps its own cache (see aws-model.ts).
 */
import type { SimCall } from "../infra/local/m365-simulator/index.ts";
import { ALL_MODES, log, modeName, onboardingRequest, type Result, startWorkflowStack } from "./harness.ts";

function count(calls: SimCall[]) {
  const m365 = calls.filter((c) => c.service !== "identity");
  return {
    tokens: calls.filter((c) => c.service === "identity" && c.operation === "token").length,
    metadata: calls.filter((c) => c.operation === "openid-configuration").length,
    reads: m365.filter((c) => !c.write).length,
    writes: m365.filter((c) => c.write).length,
    failed: calls.filter((c) => c.status >= 400 || c.status === 0).length,
    writeOps: [...new Set(m365.filter((c) => c.write).map((c) => c.operation))],
  };
}

export async function run(): Promise<Result> {
  const stack = await startWorkflowStack();
  const rows: Result["rows"] = [];
  const details: Record<string, unknown> = {};
  try {
    for (const mode of ALL_MODES) {
      const request = onboardingRequest(mode);
      const first = await stack.onboard(request);
      if (first.tenant.status !== "succeeded") throw new Error(`${modeName(mode)} did not succeed`);
      const fresh = count(stack.sim.calls(request.tenantId));
      stack.sim.resetCalls();
      const again = await stack.rerun(request.tenantId);
      if (again.tenant.status !== "succeeded") throw new Error(`re-run of ${modeName(mode)} did not succeed`);
      const rerun = count(stack.sim.calls(request.tenantId));
      stack.sim.resetCalls();
      rows.push({
        mode: modeName(mode),
        tokens: fresh.tokens,
        reads: fresh.reads,
        writes: fresh.writes,
        "total requests": fresh.tokens + fresh.metadata + fresh.reads + fresh.writes,
        "re-run tokens": rerun.tokens,
        "re-run reads": rerun.reads,
        "re-run writes": rerun.writes,
      });
      details[modeName(mode)] = { fresh, rerun };
      log(
        `calls ${modeName(mode)}: ${fresh.tokens} tokens, ${fresh.reads} reads, ${fresh.writes} writes (${fresh.writeOps.join(", ")}); re-run ${rerun.reads} reads, ${rerun.writes} writes`,
      );
    }
  } finally {
    await stack.close();
  }
  const rerunWrites = rows.reduce((s, r) => s + Number(r["re-run writes"]), 0);
  return {
    name: "calls",
    title: "Microsoft 365 requests per onboarding, and per re-run on a finished tenant",
    columns: Object.keys(rows[0] ?? {}),
    rows,
    targets: [
      {
        name: "idempotent re-run",
        target: "writes = 0 in every mode",
        measured: `${rerunWrites} writes over ${rows.length} modes`,
        met: rerunWrites === 0,
      },
    ],
    notes: [
      "Counted from the simulator's call log (every attempt; no faults were injected, so none failed). Reads: Graph GET /organization and Get-/Validate- cmdlets; writes: New-/Set-/Add-/Enable- cmdlets. Total adds MSAL's openid-configuration request (one per tenant credential).",
      "A re-run asks for no token because the process caches them per tenant and resource; on AWS each Lambda environment has its own cache, so an onboarding asks for one token per resource in each environment it meets (see aws-model).",
    ],
    details,
  };
}
