/**
 * Exchange's admin API over HTTPS: `POST /adminapi/{beta|v1.0}/{tenantId}/InvokeCommand`. The
 * envelope (`CmdletInput`), the token and anchor checks, the real-world behaviours that act
 * before a cmdlet runs (concurrency limit, transient directory errors, slow cmdlets), paging
 * and the `@adminapi.warnings` / `@adminapi.errors` annotations.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { DIRECTORY_EXCEPTIONS } from "../behaviours.ts";
import { readBody, send, sleep } from "../http.ts";
import type { SimHost } from "../server.ts";
import type { SimFault } from "../types.ts";
import { exchangeFailure, noRoleFailure } from "./answers.ts";
import { handleBatch } from "./batch.ts";
import { cmdletNames, runCmdlet } from "./cmdlets.ts";
import { delegatedAccess, delegatedAnchor, isDelegated } from "./delegated.ts";
import { CmdletError, exchangeError, isWriteCmdlet } from "./invoke.ts";
import { rateLimit } from "./rate-limit.ts";
import { accessOf, allowedCmdlets, deniedBody, NOT_ALLOWED } from "./rbac.ts";
import { exchangeBase, redirectToRegion } from "./regional.ts";

/** The system mailbox every InvokeCommand call is anchored to (what the EXO V3 module sends). */
export const EXCHANGE_ANCHOR_MAILBOX = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";

type AdminApiErrorsFault = Extract<SimFault, { kind: "adminapi-errors" }>;

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
  const tenantId = pathTenant.toLowerCase();
  // The front door answers before it reads the body: the client sends it again to the region.
  if (redirectToRegion(host, req, res, tenantId, "InvokeCommand")) return;
  let input: { CmdletInput?: { CmdletName?: unknown; Parameters?: unknown } };
  try {
    input = JSON.parse(await readBody(req));
  } catch {
    return send(
      res,
      400,
      exchangeError(400, "System.ArgumentException", "The request body is not valid JSON.", "Ex000001"),
    );
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
  let limitHeaders: Record<string, string> = {};
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    call.status = status;
    send(res, status, body, { ...limitHeaders, ...headers });
  };
  const claims = host.identity.authenticate(req, host.endpoints.exchange);
  if (typeof claims === "string") return reply(401, { error: { code: "Unauthorized", message: claims } });
  if (claims.tid !== tenantId) {
    return reply(401, {
      error: {
        code: "Unauthorized",
        message: `The token was issued for tenant ${claims.tid}, not ${tenantId}.`,
      },
    });
  }
  // Source: X-AnchorMailbox APP:SystemMailbox{bb558c35-...}@<tenant> (KelvinTegelaar/CIPP-API
  // Modules/CIPPCore/Public/GraphHelper/New-ExoRequest.ps1; cisagov/ScubaGear EXORestHelper.psm1).
  // A user's (delegated) call is anchored `UPN:` (see delegated.ts), the app's own `APP:`.
  const delegated = isDelegated(claims);
  const anchor = String(req.headers["x-anchormailbox"] ?? "");
  const expectedAnchor = delegated
    ? delegatedAnchor(EXCHANGE_ANCHOR_MAILBOX, tenantId)
    : `APP:${EXCHANGE_ANCHOR_MAILBOX}@${tenantId}`;
  if (anchor.toLowerCase() !== expectedAnchor.toLowerCase()) {
    return reply(
      400,
      exchangeError(
        400,
        "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        "The X-AnchorMailbox header is missing or does not name this organization's system mailbox.",
        "Ex000002",
      ),
    );
  }
  if (!cmdlet || typeof parameters !== "object" || parameters === null || Array.isArray(parameters)) {
    return reply(
      400,
      exchangeError(
        400,
        "System.ArgumentException",
        "CmdletInput.CmdletName and CmdletInput.Parameters are required.",
        "Ex000003",
      ),
    );
  }

  const behaviours = host.behaviours;
  const limited = rateLimit(`${host.url}|${tenantId}`, behaviours.rateLimit, Date.now());
  limitHeaders = limited.headers;
  if (limited.retryAfterSeconds !== undefined) {
    call.fault = "throttle";
    return reply(
      429,
      { error: { code: "TooManyRequests", message: "The tenant's request rate limit was reached." } },
      { "retry-after": String(limited.retryAfterSeconds) },
    );
  }
  const access = delegated ? delegatedAccess(claims) : accessOf(host.state(tenantId), claims.appid);
  // An app with no Exchange role at all is refused as a whole; a user without rights is refused
  // per cmdlet ("User is not allowed to call ...", delegated.ts).
  if (!delegated && !access.all && access.roles.size === 0) {
    const refused = noRoleFailure(claims.appid, behaviours.errorDetailForm);
    return reply(403, refused.body, refused.headers);
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
    return reply(429, body, { "retry-after": "1" });
  }
  try {
    await host.latency();
    const fault = host.takeFault(tenantId, cmdlet) ?? host.randomFault();
    const dropAfter = typeof fault === "object" && fault.kind === "drop" && fault.afterApplying === true;
    const errorsFault =
      typeof fault === "object" && fault.kind === "adminapi-errors"
        ? fault
        : typeof fault === "string" && fault === "adminapi-errors"
          ? ({ kind: "adminapi-errors" } as AdminApiErrorsFault)
          : undefined;
    if (!dropAfter && !errorsFault && (await host.applyFault(call, res, fault, "odata"))) return;

    // Behaviour `directoryErrorRate`: a transient directory exception before the cmdlet runs,
    // status 400 or 500 drawn from the seeded PRNG (exception names the module is reported to retry; assumed).
    if (behaviours.directoryErrorRate > 0 && host.random() < behaviours.directoryErrorRate) {
      const pick = DIRECTORY_EXCEPTIONS[Math.floor(host.random() * DIRECTORY_EXCEPTIONS.length)]!;
      const status = host.random() < 0.5 ? 400 : 500;
      call.fault = "directory-error";
      const failure = exchangeFailure(
        status,
        pick.type,
        pick.message,
        "Ex3D9F1B",
        behaviours.errorDetailForm,
      );
      return reply(status, failure.body, failure.headers);
    }
    // Behaviour `slowCmdlets`: this cmdlet answers after the given delay.
    const slow = behaviours.slowCmdlets[cmdlet.toLowerCase()] ?? 0;
    if (slow > 0) await sleep(slow);

    const randomErrors =
      !errorsFault && behaviours.adminApiErrorRate > 0 && host.random() < behaviours.adminApiErrorRate
        ? ({ kind: "adminapi-errors" } as AdminApiErrorsFault)
        : undefined;
    const annotatedErrors = errorsFault ?? randomErrors;
    const state = host.state(tenantId);
    let rows: Record<string, unknown>[] = [];
    const warnings: string[] = [];
    if (!annotatedErrors || annotatedErrors.afterApplying === true) {
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
        if (err.exceptionType === NOT_ALLOWED) return reply(err.status, deniedBody(err.message));
        const failure = exchangeFailure(
          err.status,
          err.exceptionType,
          err.message,
          err.errorId,
          behaviours.errorDetailForm,
        );
        return reply(err.status, failure.body, failure.headers);
      }
      if (call.write) host.changed();
    }
    if (dropAfter) {
      await host.applyFault(call, res, fault, "odata");
      return;
    }
    const base = `${exchangeBase(host, req)}/adminapi/${version}/${pathTenant}`;
    // `$select=A,B` keeps only those properties (KelvinTegelaar/CIPP-API New-ExoRequest.ps1 sends it).
    const select = (url.searchParams.get("$select") ?? "")
      .split(",")
      .map((p) => p.trim().toLowerCase())
      .filter(Boolean);
    const project = (row: Record<string, unknown>) =>
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
      call.fault = "adminapi-errors";
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
    reply(200, body);
  } finally {
    host.runtime.leave(tenantId);
  }
}

/**
 * `GET /adminapi/{v1.0|beta}/{tenant}/EXOModuleFile?Version=` with `CommandName: *`: the module
 * file the EXO V3 module builds its commands from; `value[0].exportedCmdlets` lists, comma
 * separated, the cmdlets the caller's roles allow. Source: KelvinTegelaar/CIPP-API
 * New-ExoRequest.ps1 (`-AvailableCmdlets`); the other properties of the row are assumed.
 */
async function moduleFile(
  host: SimHost,
  req: IncomingMessage,
  res: ServerResponse,
  tenantId: string,
  url: URL,
): Promise<void> {
  const call = host.record({ tenantId, service: "exchange", operation: "EXOModuleFile", write: false });
  const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
    call.status = status;
    send(res, status, body, headers);
  };
  const claims = host.identity.authenticate(req, host.endpoints.exchange);
  if (typeof claims === "string") return reply(401, { error: { code: "Unauthorized", message: claims } });
  if (claims.tid !== tenantId) {
    return reply(401, {
      error: { code: "Unauthorized", message: `The token was issued for tenant ${claims.tid}.` },
    });
  }
  await host.latency();
  if (await host.applyFault(call, res, host.takeFault(tenantId, "EXOModuleFile"), "odata")) return;
  const access = accessOf(host.state(tenantId), claims.appid);
  // An app with no Exchange role at all is refused here too: what Connect-ExchangeOnline reports.
  if (!access.all && access.roles.size === 0) {
    const refused = noRoleFailure(claims.appid, host.behaviours.errorDetailForm);
    return reply(403, refused.body, refused.headers);
  }
  const cmdlets = allowedCmdlets(access, cmdletNames());
  reply(200, {
    "@odata.context": `${host.endpoints.exchange}/adminapi/v1.0/${tenantId}/$metadata#EXOModuleFile`,
    value: [
      {
        version: url.searchParams.get("Version") ?? "",
        commandName: String(req.headers["commandname"] ?? "*"),
        exportedCmdlets: cmdlets.join(","),
      },
    ],
  });
}
