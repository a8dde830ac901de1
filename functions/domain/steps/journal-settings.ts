import { sameAddress } from "../normalize.ts";
import type { StepContext, StepOutcome } from "./context.ts";

/** Step `journal-settings`: JournalingReportNdrTo = ndrAddress, remembering the previous value. */
export async function applyJournalSettings(ctx: StepContext): Promise<StepOutcome> {
  const current = await ctx.m365.exchange.getTransportConfig();
  if (sameAddress(current.journalingReportNdrTo, ctx.request.ndrAddress)) return { changes: [] };
  await ctx.rememberPreviousNdrTo(current.journalingReportNdrTo || null);
  await ctx.m365.exchange.setTransportConfig({ journalingReportNdrTo: ctx.request.ndrAddress });
  return { changes: [`set JournalingReportNdrTo to ${ctx.request.ndrAddress}`] };
}
