/**
 * Exchange's admin API cmdlet layer: the cmdlet registry, parameter binding (declared and
 * common parameters), the typed parameter readers, the error a cmdlet throws and the OData
 * error body the REST endpoint answers with. Cmdlets live in the sibling files, one per
 * Exchange object.
 */
import type { ExchangeBehaviours } from "../behaviours.ts";
import type { TenantState } from "../state.ts";

/** A cmdlet failure as Exchange reports it: HTTP status, .NET exception type, text. */
export class CmdletError extends Error {
  override readonly name = "CmdletError";
  readonly status: number;
  readonly exceptionType: string;
  readonly errorId: string;
  constructor(status: number, exceptionType: string, message: string, errorId = "Ex6F9304") {
    super(message);
    this.status = status;
    this.exceptionType = exceptionType;
    this.errorId = errorId;
  }
}

/** .NET exception types Exchange names in its errors. */
export const EXCEPTION = {
  NOT_FOUND: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
  AMBIGUOUS: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
  ALREADY_EXISTS: "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException",
  PROXY_EXISTS: "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException",
  /** PowerShell's own binder (unknown parameter, missing mandatory parameter, bad value). */
  PARAMETER_BINDING: "System.Management.Automation.ParameterBindingException",
  ARGUMENT: "System.ArgumentException",
  DATA_VALIDATION: "Microsoft.Exchange.Data.DataValidationException",
  INVALID_OPERATION: "System.InvalidOperationException",
  TASK_ARGUMENT: "Microsoft.Exchange.Configuration.Tasks.TaskArgumentException",
  DEHYDRATED: "Microsoft.Exchange.Configuration.Tasks.InvalidOperationInDehydratedContextException",
  COMMAND_NOT_FOUND: "System.Management.Automation.CommandNotFoundException",
} as const;

export type Params = Record<string, unknown>;
export type Row = Record<string, unknown>;

/** What a cmdlet runs with. */
export interface CmdletContext {
  state: TenantState;
  /** Bound parameters, keyed by their declared spelling. */
  params: Params;
  /** The cmdlet's canonical name. */
  cmdlet: string;
  behaviours: ExchangeBehaviours;
  /** ISO time of the call, and the same in epoch ms. */
  now: string;
  nowMs: number;
  /** Replication lag: whether this object (created at epoch ms) is not yet visible to this cmdlet. */
  notYetReplicated(objectGuid: string): boolean;
  /** Records an object's creation for the replication lag behaviour. */
  created(objectGuid: string): void;
  /** Adds a line to the answer's `@adminapi.warnings`. */
  warn(message: string): void;
}

export interface CmdletDefinition {
  /** Canonical name, e.g. `Get-OutboundConnector`. */
  name: string;
  /** Every parameter the cmdlet declares, besides the common parameters. */
  parameters: readonly string[];
  /**
   * Whether the cmdlet has -Confirm and -WhatIf (SupportsShouldProcess): what changes the
   * organisation, and Validate-OutboundConnector. Source: each cmdlet's SYNTAX block in
   * MicrosoftDocs/office-docs-powershell exchange/exchange-ps/exchange/<Cmdlet>.md.
   */
  shouldProcess: boolean;
  run(ctx: CmdletContext): Row[];
}

/**
 * PowerShell's common parameters, accepted by every cmdlet. Source: the "CommonParameters"
 * section of every cmdlet page in MicrosoftDocs/office-docs-powershell (about_CommonParameters).
 */
export const COMMON_PARAMETERS = [
  "Debug",
  "ErrorAction",
  "ErrorVariable",
  "InformationAction",
  "InformationVariable",
  "OutVariable",
  "OutBuffer",
  "PipelineVariable",
  "Verbose",
  "WarningAction",
  "WarningVariable",
] as const;

const WRITE_VERBS = new Set(["New", "Set", "Remove", "Add", "Enable", "Disable"]);

/** Whether a cmdlet changes the organisation's configuration (Get-* and Validate-* do not). */
export function isWriteCmdlet(cmdlet: string): boolean {
  return WRITE_VERBS.has(cmdlet.split("-")[0] ?? "");
}

/**
 * Binds the caller's parameters to the cmdlet's declared ones (case-insensitively, as
 * PowerShell does) and returns them under their declared spelling. An undeclared name is
 * refused as PowerShell refuses it.
 * Source: PowerShell's binder, "A parameter cannot be found that matches parameter name"
 * (NamedParameterNotFound), e.g. MicrosoftDocs/office-docs-powershell cmdlet pages list the
 * only names a cmdlet accepts.
 */
export function bindParameters(def: CmdletDefinition, given: Params): Params {
  const declared = [
    ...def.parameters,
    ...COMMON_PARAMETERS,
    ...(def.shouldProcess ? ["Confirm", "WhatIf"] : []),
  ];
  const bound: Params = {};
  for (const [key, value] of Object.entries(given)) {
    const name = declared.find((d) => d.toLowerCase() === key.toLowerCase());
    if (!name) {
      throw new CmdletError(
        400,
        EXCEPTION.PARAMETER_BINDING,
        `A parameter cannot be found that matches parameter name '${key}'.`,
        "NamedParameterNotFound",
      );
    }
    if (name in bound) {
      throw new CmdletError(
        400,
        EXCEPTION.PARAMETER_BINDING,
        `Cannot bind parameter because parameter '${name}' is specified more than once.`,
        "ParameterAlreadyBound",
      );
    }
    bound[name] = value;
  }
  return bound;
}

// ---- parameter readers (parameters are already bound under their declared names) ----------

export function param(p: Params, name: string): unknown {
  return p[name];
}
export function has(p: Params, name: string): boolean {
  return Object.hasOwn(p, name);
}
export function str(p: Params, name: string, required = false): string | undefined {
  const v = p[name];
  if (v === undefined || v === null || v === "") {
    if (required) throw missing(name);
    return undefined;
  }
  if (typeof v !== "string") throw badValue(name, v);
  return v;
}
export function bool(p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === "boolean") return v;
  if (typeof v === "string" && /^(true|false|\$true|\$false)$/i.test(v)) return /true/i.test(v);
  throw badValue(name, v);
}
/** Multivalued parameters accept one value or an array, as PowerShell does. */
export function list(p: Params, name: string): string[] | undefined {
  const v = p[name];
  if (v === undefined || v === null) return undefined;
  const items = Array.isArray(v) ? v : [v];
  for (const item of items) if (typeof item !== "string") throw badValue(name, item);
  return (items as string[]).map((s) => s.trim()).filter((s) => s.length > 0);
}
export function oneOf<T extends string>(p: Params, name: string, allowed: readonly T[]): T | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const match = allowed.find((a) => a.toLowerCase() === v.toLowerCase());
  if (!match) {
    throw new CmdletError(
      400,
      EXCEPTION.PARAMETER_BINDING,
      `Cannot process argument transformation on parameter '${name}'. Cannot convert value "${v}" to type. Error: "Unable to match the identifier name ${v} to a valid enumerator name. Specify one of the following enumerator names and try again: ${allowed.join(", ")}"`,
    );
  }
  return match;
}
/** ResultSize: "Unlimited" or a positive whole number (default 1000). */
export function resultSize(p: Params): number {
  const v = p["ResultSize"];
  if (v === undefined || v === null) return 1000;
  if (typeof v === "string" && /^unlimited$/i.test(v)) return Number.POSITIVE_INFINITY;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw badValue("ResultSize", v);
  return n;
}

/**
 * The first ResultSize rows, with Exchange's warning when there were more. Source: the
 * ResultSize default of 1000 (Get-Recipient.md, Get-DistributionGroupMember.md); the warning
 * texts are PowerShell's as Exchange prints them (assumed word for word).
 */
export function limitRows<T>(ctx: CmdletContext, rows: T[]): T[] {
  const limit = resultSize(ctx.params);
  if (rows.length <= limit) return rows;
  ctx.warn(
    ctx.params["ResultSize"] === undefined || ctx.params["ResultSize"] === null
      ? 'By default, only the first 1000 items are returned. Use the ResultSize parameter to specify the number of items returned. To return all items, specify "-ResultSize Unlimited". Be aware that, depending on the actual number of items, returning all items can take a long time and consume a large amount of memory. Also, we don\'t recommend storing the results in a variable. Instead, pipe the results to another task or script to perform batch changes.'
      : "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.",
  );
  return rows.slice(0, limit);
}
export function missing(name: string): CmdletError {
  return new CmdletError(
    400,
    EXCEPTION.PARAMETER_BINDING,
    `Cannot process command because of one or more missing mandatory parameters: ${name}.`,
  );
}
export function badValue(name: string, v: unknown): CmdletError {
  return new CmdletError(
    400,
    EXCEPTION.PARAMETER_BINDING,
    `Cannot bind parameter '${name}' to the value ${JSON.stringify(v)}.`,
  );
}

/** Exchange's limit on Name for connectors, rules and groups. */
export const MAX_NAME_LENGTH = 64;
// Source: "The maximum length is 64 characters" (Name) in New-OutboundConnector.md, New-JournalRule.md,
// New-DistributionGroup.md (MicrosoftDocs/office-docs-powershell).
export function checkName(name: string): void {
  if (name.length > MAX_NAME_LENGTH) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `The length of the property is too long. The maximum length is ${MAX_NAME_LENGTH} and the length of the value provided is ${name.length}.`,
    );
  }
}

const SMTP = /^[^@\s<>()[\]\\,;:"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;
export const bare = (address: string) => address.trim().replace(/^smtp:/i, "");
export const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
export const isSmtp = (value: string) => SMTP.test(bare(value));
export function checkSmtp(name: string, value: string): void {
  if (!isSmtp(value)) {
    throw new CmdletError(
      400,
      EXCEPTION.DATA_VALIDATION,
      `"${value}" isn't a valid SMTP address for parameter ${name}.`,
    );
  }
}
export const domainOf = (address: string) => bare(address).split("@")[1]?.toLowerCase() ?? "";

export function notFound(identity: string, state: TenantState): CmdletError {
  return new CmdletError(
    404,
    EXCEPTION.NOT_FOUND,
    `The operation couldn't be performed because object '${identity}' couldn't be found on '${state.domain.toUpperCase().replace(/\.ONMICROSOFT\.COM$/, "")}.PROD.OUTLOOK.COM'.`,
  );
}
export function required<T>(value: T | undefined, identity: string, state: TenantState): T {
  if (value === undefined) throw notFound(identity, state);
  return value;
}

/** Empty multivalued properties come back as null, as Exchange serialises them. */
export const multi = (values: string[]) => (values.length === 0 ? null : [...values]);

// ---- the REST error body -------------------------------------------------------------------

const STATUS_CODES: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  409: "Conflict",
  429: "TooManyRequests",
  500: "InternalServerError",
  503: "ServiceUnavailable",
};
export function statusCode(status: number): string {
  return STATUS_CODES[status] ?? `Http${status}`;
}

/** Exchange's OData error: the text is in details[].message as `ErrorId|ExceptionType|Text`. */
export function exchangeError(
  status: number,
  exceptionType: string,
  message: string,
  errorId: string,
): unknown {
  return {
    error: {
      code: statusCode(status),
      message: "Error executing cmdlet",
      details: [{ code: "Context", target: "", message: `${errorId}|${exceptionType}|${message}` }],
      innererror: {
        message: "Error executing cmdlet",
        type: "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        stacktrace: "",
        internalexception: { message, type: exceptionType, stacktrace: "" },
      },
    },
  };
}
