/**
 * The forms in which Exchange's admin API reports a failure, and the refusal of an app that holds
 * no Exchange role at all.
 *
 * Two forms of `error.details[].message` are seen in public clients: the `ErrorId|ExceptionType|Text`
 * string (KelvinTegelaar/CIPP-API New-ExoRequest.ps1; GreyCorbel/ExoHelper Get-ExoException.ps1,
 * which splits on `|`) and a JSON string `{"Message": ..., "TypeName": ...}` (terraprovider/go-exoscc
 * adminapi/invoke.go, `cmdletException`). The `X-ExceptionType` response header names the exception
 * too (GreyCorbel/ExoHelper Invoke-ExoCommand.ps1 reads it). Which form a tenant answers in is the
 * behaviour `errorDetailForm` ("pipe" by default).
 */
import type { ErrorDetailForm } from "../types.ts";
import { exchangeError } from "./invoke.ts";

export interface ExchangeFailure {
  body: unknown;
  headers: Record<string, string>;
}

/** The short exception name the `X-ExceptionType` header carries (assumed: the class name without its namespace). */
export function shortExceptionName(exceptionType: string): string {
  return exceptionType.split(".").at(-1) ?? exceptionType;
}

/** Exchange's OData error in the tenant's detail form, with the `X-ExceptionType` header. */
export function exchangeFailure(
  status: number,
  exceptionType: string,
  message: string,
  errorId: string,
  form: ErrorDetailForm,
): ExchangeFailure {
  const body = exchangeError(status, exceptionType, message, errorId) as {
    error: { details: { message: string }[]; innererror: Record<string, unknown> };
  };
  if (form === "json") {
    // go-exoscc's `cmdletException`: Message and TypeName, read from details only; whether this
    // form also carries innererror.internalexception is not known, so it does not (the stricter case).
    body.error.details[0]!.message = JSON.stringify({ Message: message, TypeName: exceptionType });
    delete body.error.innererror.internalexception;
  }
  return { body, headers: { "x-exceptiontype": shortExceptionName(exceptionType) } };
}

export const NO_ROLE_EXCEPTION = "Microsoft.Exchange.Configuration.Authorization.CmdletAccessDeniedException";

/**
 * An app with `Exchange.ManageAsApp` consent but no Exchange role (neither an Entra role such as
 * Exchange Administrator nor a role group membership of its service principal): every call,
 * EXOModuleFile included, is refused with 403 and this text. Sources: the text, as the
 * ExchangeOnlineManagement module prints it at Connect-ExchangeOnline (Microsoft365DSC issues
 * #4530 and #6253, maester365/maester issue #718; `[FailureCategory=AuthZ-CmdletAccessDeniedException]`
 * in the Remote PowerShell form); the 403: terraprovider/go-exoscc README ("Without a role you'll
 * get a 403 / 'role isn't supported'"). The body's shape around the text is assumed.
 */
export function noRoleFailure(appId: string, form: ErrorDetailForm): ExchangeFailure {
  const text = `The role assigned to application ${appId} isn't supported in this scenario. Please check online documentation for assigning correct Directory Roles to Azure AD Application for EXO App-Only Authentication.`;
  const failure = exchangeFailure(403, NO_ROLE_EXCEPTION, text, "Ex0A1F3C", form);
  (failure.body as { error: { message: string } }).error.message = text;
  return failure;
}
