/**
 * Several cmdlets in one request: `POST {exchange}/adminapi/beta/{tenantId}/$batch` with
 * `{"requests": [{"id", "method": "POST", "url": <InvokeCommand>, "headers", "body":
 * {"CmdletInput": ...}}]}`, at most 10 per request, answered `{"responses": [{"id", "status",
 * "headers", "body"}]}` where each body is what InvokeCommand would answer. As the
 * ExchangeOnlineManagement module and CIPP-API (New-ExoBulkRequest.ps1) send bulk changes: 10,000
 * member adds are 1,000 requests instead of 10,000. Each cmdlet's outcome is its own: rows, or
 * the named error its answer maps to.
 */
import { type OnboardingError, TransientError } from "../../domain/errors.ts";
import { lowerKeys } from "./error-details.ts";
import { errorFromAdminApiErrors, errorFromResponse } from "./error-model.ts";
import {
  type CmdletParameters,
  type CmdletRow,
  EXCHANGE_SYSTEM_MAILBOX,
  type ExchangeClient,
} from "./exchange-client.ts";
import type { CallOptions } from "./retry.ts";

/** Cmdlets per $batch request (what the module and CIPP send). */
export const BATCH_SIZE = 10;

export interface BatchCall {
  cmdlet: string;
  parameters: CmdletParameters;
}

export type BatchOutcome = { rows: CmdletRow[]; error?: undefined } | { error: OnboardingError };

/** Runs `calls` in batches of ten; one outcome per call, in order. */
export async function invokeBatch(
  client: ExchangeClient,
  tenantId: string,
  calls: readonly BatchCall[],
  options: CallOptions = {},
): Promise<BatchOutcome[]> {
  const outcomes: BatchOutcome[] = [];
  for (let start = 0; start < calls.length; start += BATCH_SIZE) {
    const chunk = calls.slice(start, start + BATCH_SIZE);
    const requests = chunk.map((call, i) => ({
      id: String(i + 1),
      method: "POST",
      url: client.invokeUrl(tenantId),
      headers: {
        "Content-Type": "application/json",
        "X-AnchorMailbox": `APP:${EXCHANGE_SYSTEM_MAILBOX}@${tenantId}`,
      },
      body: { CmdletInput: { CmdletName: call.cmdlet, Parameters: call.parameters } },
    }));
    const operation = `$batch ${chunk[0]!.cmdlet}`;
    const answer = lowerKeys(await client.batch(tenantId, operation, { requests }, options));
    const responses = Array.isArray(answer?.responses) ? answer.responses : [];
    const byId = new Map<string, Record<string, unknown>>();
    for (const r of responses) {
      const o = lowerKeys(r);
      if (o) byId.set(String(o.id), o);
    }
    chunk.forEach((call, i) => {
      outcomes.push(outcomeOf(tenantId, client, call.cmdlet, byId.get(String(i + 1))));
    });
  }
  return outcomes;
}

function outcomeOf(
  tenantId: string,
  client: ExchangeClient,
  cmdlet: string,
  response: Record<string, unknown> | undefined,
): BatchOutcome {
  if (!response) return { error: new TransientError(`${cmdlet}: the batch answer has no response for it`) };
  const status = Number(response.status);
  const body = response.body;
  const headers = new Headers(
    Object.entries(lowerKeys(response.headers) ?? {}).map(([k, v]) => [k, String(v)] as [string, string]),
  );
  if (!(status >= 200 && status < 300)) {
    const text = typeof body === "string" ? body : JSON.stringify(body ?? {});
    return { error: errorFromResponse("exchange", cmdlet, status, headers, text) };
  }
  const obj = lowerKeys(body) ?? {};
  const errors = obj["@adminapi.errors"];
  if (Array.isArray(errors) && errors.length > 0) return { error: errorFromAdminApiErrors(cmdlet, errors) };
  const warnings = obj["@adminapi.warnings"];
  if (Array.isArray(warnings) && warnings.length > 0) {
    client.warn(
      tenantId,
      cmdlet,
      warnings.map((w) => (typeof w === "string" ? w : JSON.stringify(w))),
    );
  }
  const value = obj.value;
  const rows = Array.isArray(value) ? (value as CmdletRow[]) : value ? [value as CmdletRow] : [];
  return { rows };
}
