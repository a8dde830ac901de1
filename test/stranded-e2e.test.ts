/**
 * Nothing lost on a crash, end to end on either form (test/support/form.ts): a retry whose
 * workflow start never happened (on the AWS form the API function's environment dies as it calls
 * StartExecution, after it wrote the tenant `queued`; on the local form the start is lost) leaves
 * the tenant `queued` with no execution. The service notices by itself, with no API call: the
 * partner's webhook gets `tenant.onboarding.failed` with INTERRUPTED, and a retry finishes the
 * tenant. The threshold is 2 s here (STRANDED_AFTER_SECONDS; 5 minutes by default).
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { type FormHandle, form, startForm } from "./support/form.ts";
import { receiveWebhooks, type WebhookReceiver } from "./support/webhook-receiver.ts";

/** The API function and the stranded-run sweep's schedule rule in the template. */
const API_FUNCTION = "ApiHandler8AD6A8DF";
const SWEEP_RULE = "WorkflowStrandedSweepTickCB14359C";

let rt: FormHandle;
let partner: { partnerId: string; apiKey: string };
let receiver: WebhookReceiver;

beforeAll(async () => {
  rt = await startForm({ env: { STRANDED_AFTER_SECONDS: "2", STRANDED_SWEEP_SECONDS: "1" } });
  partner = await rt.createPartner("Stranded MSP");
  receiver = await receiveWebhooks(rt, partner.apiKey);
});

afterAll(async () => {
  await rt?.close();
  receiver?.close();
});

/** The retry writes the tenant `queued` (a new run), and its workflow is never started. */
async function retryWhoseStartIsLost(tenantId: string): Promise<void> {
  if (rt.aws) {
    await rt.aws.control("crash-at-call", { function: API_FUNCTION, target: "StartExecution" });
    const answer = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey });
    expect(answer.status).toBeGreaterThanOrEqual(500);
    return;
  }
  const engine = rt.local!.runtime.engine;
  const start = engine.start;
  engine.start = async () => {
    engine.start = start;
  };
  const answer = await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey });
  expect(answer.status).toBe(202);
}

const interruptedEvent = (tenantId: string) =>
  receiver.received.find(
    (e) =>
      e?.type === "tenant.onboarding.failed" &&
      e.data?.tenantId === tenantId &&
      e.data?.error?.code === "INTERRUPTED",
  );

it(`records a tenant whose workflow never started as failed INTERRUPTED by itself, webhook included, and a retry finishes it (${form} form)`, async () => {
  const tenantId = await rt.onboard(partner.apiKey, { failJournalRule: true });
  await rt.waitFor(tenantId, ["failed"]);
  await rt.idle(tenantId);

  await retryWhoseStartIsLost(tenantId);
  const stranded = await rt.call("GET", `/v1/tenants/${tenantId}`);
  expect(stranded.body.status).toBe("queued");

  // No API call from here on: the sweep notices (the AWS form's schedule fires every minute; its
  // tick is fired here once the threshold has passed, as the next minute would).
  const deadline = Date.now() + 40_000;
  let fired = false;
  while (!interruptedEvent(tenantId) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    if (rt.aws && !fired) {
      await new Promise((r) => setTimeout(r, 2500));
      await rt.aws.control("fire-rule", { rule: SWEEP_RULE });
      fired = true;
    }
  }
  expect(interruptedEvent(tenantId)).toBeDefined();
  const failed = await rt.call("GET", `/v1/tenants/${tenantId}`);
  expect(failed.body.status).toBe("failed");
  expect(failed.body.error.code).toBe("INTERRUPTED");

  expect((await rt.call("POST", `/v1/tenants/${tenantId}/retry`, { key: partner.apiKey })).status).toBe(202);
  await rt.waitFor(tenantId, ["succeeded"], 30_000);
});
