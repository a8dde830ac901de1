/**
 * Exchange's admin API over HTTPS: `POST /adminapi/{beta|v1.0}/{tenantId}/InvokeCommand`. The
 * envelope (`CmdletInput`), the token and anchor checks, the real-world behaviours that act
 * before a cmdlet runs (concurrency limit, transient directory errors, slow cmdlets), paging
 * and the `@adminapi.warnings` / `@adminapi.errors` annotations.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DIRECTORY_EXCEPTIONS } from "../behaviours.ts";
import { readBody, send, sleep } from "../http.ts";
import type { TokenClaims } from "../identity/tokens.ts";
import type { SimHost } from "../server.ts";
import type { TenantState } from "../state.ts";
import type { SimCall, SimFault } from "../types.ts";
import { exchangeFailure, noRoleFailure } from "./answers.ts";
import { handleBatch } from "./batch.ts";
import { runCmdlet } from "./cmdlets.ts";
import { delegatedAccess, delegatedAnchor, isDelegated } from "./delegated.ts";
import { CmdletError, exchangeError, isWriteCmdlet, type Row } from "./invoke.ts";
import { moduleFile } from "./module-file.ts";
import { rateLimit } from "./rate-limit.ts";
import { type Access, accessOf, deniedBody, NOT_ALLOWED } from "./rbac.ts";
import { exchangeBase, redirectToRegion } from "./regional.ts";

/** The system mailbox every InvokeCommand call is anchored to (what the EXO V3 module sends). */
export const EXCHANGE_ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

type AdminApiErrorsFault = Extract<SimFault, { kind: "adminapi-errors" }>;

/** One InvokeCommand call as its steps see it. */
interface Invocation {
  readonly host: SimHost;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly version: string;
  readonly pathTenant: string;
  readonly tenantId: string;
  readonly cmdlet: string;
  readonly parameters: Record<string, unknown>;
  /** `$skiptoken`: the rows already paged past. */
  readonly skip: number;
  readonly call: SimCall;
  /** The rate limit's headers, on every answer once the limit has been counted. */
  limitHeaders: Record<string, string>;
  reply(status: number, body: unknown, headers?: Record<string, string>): void;
}

/** What the behaviours before the cmdlet left for after it. */
interface Prepared {
  readonly fault: SimFault | undefined;
  /** A `drop` fault that acts once the cmdlet has run. */
  readonly dropAfter: boolean;
  readonly annotatedErrors: AdminApiErrorsFault | undefined;
}

export async function handleExchange(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  parts: string[],
  url: URL,
): Promise<void> {
  const [api, version, pathTenant, action] = parts;
  if (api === "adminapi" && pathTenant && action === "EXOModuleFile" && req.method === "GET") {
    if (redirectToRegion(host, req, res, pathTenant.toLowerCase(), "EXOModuleFile")) return;
    return moduleFile(host, req, res, pathTenant.toLowerCase(), url);
  }
  if (api === "adminapi" && pathTenant && action === "$batch" && req.method === "POST") {
    if (redirectToRegion(host, req, res, pathTenant.toLowerCase(), "$batch")) return;
    return handleBatch(host, req, res, version ?? "beta", pathTenant.toLowerCase());
  }
  if (
    api !== "adminapi" ||
    (version !== "beta" && version !== "v1.0") ||
    !pathTenant ||
    action !== "InvokeCommand" ||
    req.method !== "POST"
  ) {
    return send(res, 404, {
      error: { code: "NotFound", message: `No endpoint ${req.method} ${url.pathname}` },
    });
  }
  // The front door answers before it reads the body: the client sends it again to the region.
  if (redirectToRegion(host, req, res, pathTenant.toLowerCase(), "InvokeCommand")) return;
  const inv = await readEnvelope(host, req, res, url, version, pathTenant);
  if (!inv) return;
  const claims = checkCaller(inv);
  if (!claims) return;
  const access = admit(inv, claims);
  if (!access) return;
  try {
    const prepared = await beforeCmdlet(inv);
    if (!prepared) return;
    const { annotatedErrors } = prepared;
    const state = host.state(inv.tenantId);
    const warnings: string[] = [];
    let rows: Row[] = [];
    if (!annotatedErrors || annotatedErrors.afterApplying === true) {
      const ran = execute(inv, state, access, warnings);
      if (!ran) return;
      rows = ran;
    }
    if (prepared.dropAfter) {
      await host.applyFault(inv.call, res, prepared.fault, "odata");
      return;
    }
    answerPage(inv, rows, warnings, annotatedErrors);
  } finally {
    host.runtime.leave(inv.tenantId);
  }
}

/** Reads the `CmdletInput` envelope and records the call; answers 400 to a body that is not JSON. */
async function readEnvelope(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  version: string,
  pathTenant: string,
): Promise<Invocation | undefined> {
  const tenantId = pathTenant.toLowerCase();
  let input: { CmdletInput?: { CmdletName?: unknown; Parameters?: unknown } };
  try {
    input = JSON.parse(await readBody(req));
  } catch {
    send(
      res,
      400,
      exchangeError(400, "System.ArgumentException", "The request body is not valid JSON.", "Ex000001"),
    );
    return undefined;
  }
  const cmdlet = typeof input.CmdletInput?.CmdletName === "string" ? input.CmdletInput.CmdletName : "";
  const parameters = (input.CmdletInput?.Parameters ?? {}) as Record<string, unknown>;
  const skip = Number(url.searchParams.get("$skiptoken") ?? "0");
  const pageSize = host.settings.config.pageSize;
  const call = host.record({
    tenantId,
    service: "exchange",
    operation: cmdlet || "(none)",
    write: isWriteCmdlet(cmdlet),
    parameters,
    ...(skip > 0 ? { page: Math.floor(skip / pageSize) + 1 } : {}),
  });
  const inv: Invocation = {
    host,
    req,
    res,
    url,
    version,
    pathTenant,
    tenantId,
    cmdlet,
    parameters,
    skip,
    call,
    limitHeaders: {},
    reply(status, body, headers = {}) {
      call.status = status;
      send(res, status, body, { ...inv.limitHeaders, ...headers });
    },
  };
  return inv;
}

/** The token (this tenant's), the anchor mailbox and the envelope's fields; answers when one is wrong. */
function checkCaller(inv: Invocation): TokenClaims | undefined {
  const { host, req, tenantId, cmdlet, parameters } = inv;
  const claims = host.identity.authenticate(req, host.endpoints.exchange);
  if (typeof claims === "string") {
    inv.reply(401, { error: { code: "Unauthorized", message: claims } });
    return undefined;
  }
  if (claims.tid !== tenantId) {
    inv.reply(401, {
      error: {
        code: "Unauthorized",
        message: `The token was issued for tenant ${claims.tid}, not ${tenantId}.`,
      },
    });
    return undefined;
  }
  // Source: X-AnchorMailbox APP:SystemMailbox{bb558c35-...}@<tenant> (KelvinTegelaar/CIPP-API
  // Modules/CIPPCore/Public/GraphHelper/New-ExoRequest.ps1; cisagov/ScubaGear EXORestHelper.psm1).
  // A user's (delegated) call is anchored `UPN:` (see delegated.ts), the app's own `APP:`.
  const anchor = String(req.headers["x-anchormailbox"] ?? "");
  const expectedAnchor = isDelegated(claims)
    ? delegatedAnchor(EXCHANGE_ANCHOR_MAILBOX, tenantId)
    : `APP:${EXCHANGE_ANCHOR_MAILBOX}@${tenantId}`;
  if (anchor.toLowerCase() !== expectedAnchor.toLowerCase()) {
    inv.reply(
      400,
      exchangeError(
        400,
        "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        "The X-AnchorMailbox header is missing or does not name this organization's system mailbox.",
        "Ex000002",
      ),
    );
    return undefined;
  }
  if (!cmdlet || typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    inv.reply(
      400,
      exchangeError(
        400,
        "System.ArgumentException",
        "CmdletInput.CmdletName and CmdletInput.Parameters are required.",
        "Ex000003",
      ),
    );
    return undefined;
  }
  return claims;
}

/**
 * The tenant's rate limit, the caller's Exchange access and the concurrency limit. The call is
 * in flight (`runtime.enter`) once this returns the access; the caller must `runtime.leave`.
 */
function admit(inv: Invocation, claims: TokenClaims): Access | undefined {
  const { host, tenantId, call } = inv;
  const behaviours = host.behaviours;
  const limited = rateLimit(`${host.url}|${tenantId}`, behaviours.rateLimit, Date.now());
  inv.limitHeaders = limited.headers;
  if (limited.retryAfterSeconds !== undefined) {
    call.fault = "throttle";
    inv.reply(
      429,
      { error: { code: "TooManyRequests", message: "The tenant's request rate limit was reached." } },
      { "retry-after": String(limited.retryAfterSeconds) },
    );
    return undefined;
  }
  const delegated = isDelegated(claims);
  const access = delegated ? delegatedAccess(claims) : accessOf(host.state(tenantId), claims.appid);
  // An app with no Exchange role at all is refused as a whole; a user without rights is refused
  // per cmdlet ("User is not allowed to call ...", delegated.ts).
  if (!delegated && !access.all && access.roles.size === 0) {
    const refused = noRoleFailure(claims.appid, behaviours.errorDetailForm);
    inv.reply(403, refused.body, refused.headers);
    return undefined;
  }
  // Behaviour `maxConcurrentPerTenant`: status, Retry-After and text assumed (no public text for
  // the REST API; the RPS era allowed 3 concurrent sessions per tenant, office-docs-powershell issue #4582).
  if (!host.runtime.enter(tenantId, behaviours.maxConcurrentPerTenant)) {
    call.fault = "concurrency-limit";
    const text = `The maximum number of concurrent requests per tenant (${behaviours.maxConcurrentPerTenant}) has been exceeded. Wait for a request to complete and try again.`;
    const body = exchangeError(
      429,
      "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
      text,
      "Ex7A4C2E",
    ) as {
      error: { message: string };
    };
    body.error.message = text;
    inv.reply(429, body, { "retry-after": "1" });
    return undefined;
  }
  call.inFlight = host.runtime.inFlight(tenantId);
  return access;
}

/**
 * Latency, injected and random faults, transient directory errors and slow cmdlets, in the order
 * they draw from the seeded PRNG. Undefined when one of them has answered.
 */
async function beforeCmdlet(inv: Invocation): Promise<Prepared | undefined> {
  const { host, tenantId, cmdlet, call, res } = inv;
  const behaviours = host.behaviours;
  await host.latency();
  const fault = host.takeFault(tenantId, cmdlet) ?? host.randomFault();
  const dropAfter = typeof fault === "object" && fault.kind === "drop" && fault.afterApplying === true;
  const errorsFault =
    typeof fault === "object" && fault.kind === "adminapi-errors"
      ? fault
      : typeof fault === "string" && fault === "adminapi-errors"
        ? ({ kind: "adminapi-errors" } as AdminApiErrorsFault)
        : undefined;
  if (!dropAfter && !errorsFault && (await host.applyFault(call, res, fault, "odata"))) return undefined;

  // Behaviour `directoryErrorRate`: a transient directory exception before the cmdlet runs,
  // status 400 or 500 drawn from the seeded PRNG (exception names the module is reported to retry; assumed).
  if (behaviours.directoryErrorRate > 0 && host.random() < behaviours.directoryErrorRate) {
    const pick = DIRECTORY_EXCEPTIONS[Math.floor(host.random() * DIRECTORY_EXCEPTIONS.length)]!;
    const status = host.random() < 0.5 ? 400 : 500;
    call.fault = "directory-error";
    const failure = exchangeFailure(status, pick.type, pick.message, "Ex3D9F1B", behaviours.errorDetailForm);
    inv.reply(status, failure.body, failure.headers);
    return undefined;
  }
  // Behaviour `slowCmdlets`: this cmdlet answers after the given delay.
  const slow = behaviours.slowCmdlets[cmdlet.toLowerCase()] ?? 0;
  if (slow > 0) await sleep(slow);

  const randomErrors =
    !errorsFault && behaviours.adminApiErrorRate > 0 && host.random() < behaviours.adminApiErrorRate
      ? ({ kind: "adminapi-errors" } as AdminApiErrorsFault)
      : undefined;
  return { fault, dropAfter, annotatedErrors: errorsFault ?? randomErrors };
}

/** Runs the cmdlet on the tenant's state; a `CmdletError` is answered and gives undefined. */
function execute(inv: Invocation, state: TenantState, access: Access, warnings: string[]): Row[] | undefined {
  const { host, cmdlet, parameters, call } = inv;
  const behaviours = host.behaviours;
  let rows: Row[];
  try {
    rows = runCmdlet(state, cmdlet, parameters, {
      behaviours,
      notYetReplicated: (name, guid) => host.runtime.notYetReplicated(behaviours, name, guid, Date.now()),
      created: (guid) => host.runtime.created(guid, Date.now()),
      warnings,
      access,
    });
  } catch (err) {
    if (!(err instanceof CmdletError)) throw err;
    if (err.exceptionType === NOT_ALLOWED) {
      inv.reply(err.status, deniedBody(err.message));
      return undefined;
    }
    const failure = exchangeFailure(
      err.status,
      err.exceptionType,
      err.message,
      err.errorId,
      behaviours.errorDetailForm,
    );
    inv.reply(err.status, failure.body, failure.headers);
    return undefined;
  }
  if (call.write) host.changed();
  return rows;
}

/** The 200: one page of rows (`$select`ed), the annotations and the next page's link. */
function answerPage(
  inv: Invocation,
  rows: Row[],
  warnings: string[],
  annotatedErrors: AdminApiErrorsFault | undefined,
): void {
  const { host, req, url, skip, cmdlet } = inv;
  const pageSize = host.settings.config.pageSize;
  const base = `${exchangeBase(host, req)}/adminapi/${inv.version}/${inv.pathTenant}`;
  // `$select=A,B` keeps only those properties (KelvinTegelaar/CIPP-API New-ExoRequest.ps1 sends it).
  const select = (url.searchParams.get("$select") ?? "")
    .split(",")
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
  const project = (row: Row) =>
    select.length === 0
      ? row
      : Object.fromEntries(Object.entries(row).filter(([k]) => select.includes(k.toLowerCase())));
  const page = rows.slice(skip, skip + pageSize).map(project);
  const body: Record<string, unknown> = {
    "@odata.context": `${base}/$metadata#Collection(Exchange.GenericHashTable)`,
    // Source: `@adminapi.warnings` in 200 answers (KelvinTegelaar/CIPP-API New-ExoRequest.ps1).
    "adminapi.warnings@odata.type": "#Collection(String)",
    "@adminapi.warnings": warnings,
    value: page,
  };
  if (annotatedErrors) {
    // Fault/behaviour `adminapi-errors`: a 200 whose `@adminapi.errors` is not empty (assumed:
    // no public code shows it; each entry in the `ErrorId|ExceptionType|Text` form of details).
    inv.call.fault = "adminapi-errors";
    body["adminapi.errors@odata.type"] = "#Collection(String)";
    body["@adminapi.errors"] = annotatedErrors.errors ?? [
      `Ex5E2F9A|Microsoft.Exchange.Data.Directory.ADTransientException|${cmdlet}: the operation couldn't be completed on every object. Try again.`,
    ];
  }
  if (skip + pageSize < rows.length) {
    const next = new URLSearchParams(url.searchParams);
    next.set("$skiptoken", String(skip + pageSize));
    const query = next.toString().replace(/%24/g, "$").replace(/%2C/gi, ",");
    body["@odata.nextLink"] = `${base}/InvokeCommand?${query}`;
  }
  inv.reply(200, body);
}
