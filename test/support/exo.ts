/** Raw HTTPS calls to the simulator's Exchange admin API, as the tests of the simulator make them. */
import { afterAll, beforeAll } from "vitest";
import {
  EXCHANGE_ANCHOR_MAILBOX,
  type Simulator,
  startSimulator,
} from "../../infra/local/m365-simulator/index.ts";

export interface ExoAnswer {
  status: number;
  headers: Headers;
  body: {
    value?: Record<string, unknown>[];
    "@odata.nextLink"?: string;
    "@adminapi.warnings"?: string[];
    "@adminapi.errors"?: string[];
    error?: {
      code: string;
      message: string;
      details: { message: string }[];
      innererror: { internalexception: { message: string; type: string } };
    };
  };
}

export function exoClient(sim: () => Simulator) {
  const tokens = new Map<string, { token: string; at: number }>();
  const accessToken = async (tenantId: string): Promise<string> => {
    const cached = tokens.get(tenantId);
    if (cached && Date.now() - cached.at < 60_000) return cached.token;
    const s = sim();
    const res = await fetch(`${s.endpoints.authorityHost}/${tenantId}/oauth2/v2.0/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "client_credentials",
        client_id: s.clientId,
        client_secret: s.clientSecret,
        scope: `${s.endpoints.exchange}/.default`,
      }),
    });
    if (res.status !== 200) throw new Error(`token: ${res.status} ${await res.text()}`);
    const token = ((await res.json()) as { access_token: string }).access_token;
    tokens.set(tenantId, { token, at: Date.now() });
    return token;
  };
  const exo = async (
    tenantId: string,
    cmdlet: string,
    parameters: Record<string, unknown> = {},
    options: { query?: string } = {},
  ): Promise<ExoAnswer> => {
    const query = options.query ? `?${options.query}` : "";
    const res = await fetch(`${sim().endpoints.exchange}/adminapi/beta/${tenantId}/InvokeCommand${query}`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await accessToken(tenantId)}`,
        "x-anchormailbox": `APP:${EXCHANGE_ANCHOR_MAILBOX}@${tenantId}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ CmdletInput: { CmdletName: cmdlet, Parameters: parameters } }),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as ExoAnswer["body"] };
  };
  return { exo, accessToken };
}

/** The human text of an Exchange error (`ErrorId|ExceptionType|Text`). */
export const errorText = (a: ExoAnswer) => a.body.error?.details[0]?.message.split("|").slice(2).join("|");
/** The .NET exception type of an Exchange error. */
export const errorType = (a: ExoAnswer) => a.body.error?.innererror.internalexception.type;
/** `[status, exception type]`, for one-line expectations. */
export const failure = (a: ExoAnswer) => [a.status, errorType(a)];

/** A simulator of its own for the calling test file (started before its tests, closed after), with `exo`. */
export function suiteSimulator() {
  let started: Simulator | undefined;
  beforeAll(async () => {
    started = await startSimulator();
  });
  afterAll(async () => {
    await started?.close();
  });
  const sim = (): Simulator => {
    if (!started) throw new Error("the suite's simulator is not started yet");
    return started;
  };
  return { sim, ...exoClient(sim) };
}
