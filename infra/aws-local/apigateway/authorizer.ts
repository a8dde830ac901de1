/**
 * A Lambda TOKEN authorizer as API Gateway runs it: the token from the identity source header,
 * the validation expression checked before any invocation (no match: 401 without invoking), the
 * answer cached per token for the authorizer's TTL (the cached policy is evaluated against each
 * request's method ARN), an explicit Deny or no Allow: 403, the `Unauthorized` error: 401, any
 * other error or a malformed answer: 500.
 */
import type { Invoke, InvokeResult } from "../contracts.ts";
import type { AuthorizerModel } from "./model.ts";
import type { GatewayErrorType } from "./responses.ts";

export type AuthorizerOutcome =
  | { ok: true; context: Record<string, string | number>; usageIdentifierKey?: string }
  | { ok: false; type: GatewayErrorType; message: string | null };

interface CachedAnswer {
  expires: number;
  principalId: string;
  statements: Statement[];
  context: Record<string, string>;
  usageIdentifierKey?: string;
}

interface Statement {
  effect: string;
  actions: string[];
  resources: string[];
}

export interface TokenAuthorizer {
  authorize(token: string | undefined, methodArn: string): Promise<AuthorizerOutcome>;
  /** Invocations of the authorizer function so far (tests). */
  readonly invocations: number;
}

export function createTokenAuthorizer(
  model: AuthorizerModel,
  invoke: Invoke,
  now: () => number = Date.now,
): TokenAuthorizer {
  const cache = new Map<string, CachedAnswer>();
  const validation = model.validationExpression ? javaRegExp(model.validationExpression) : undefined;
  let invocations = 0;

  const authorize = async (token: string | undefined, methodArn: string): Promise<AuthorizerOutcome> => {
    if (!token || (validation && !validation.test(token))) {
      return { ok: false, type: "UNAUTHORIZED", message: "Unauthorized" };
    }
    let answer = model.ttlSeconds > 0 ? cache.get(token) : undefined;
    let latency = 0;
    if (!answer || answer.expires <= now()) {
      cache.delete(token);
      invocations += 1;
      const invokedAt = Date.now();
      const result = await invoke(model.functionArn, {
        type: "TOKEN",
        authorizationToken: token,
        methodArn,
      }).catch(
        (): InvokeResult => ({
          ok: false,
          errorType: "ServiceException",
          errorMessage: "not invoked",
          refused: true,
        }),
      );
      if (!result.ok) {
        if (!result.refused && result.errorMessage === "Unauthorized") {
          return { ok: false, type: "UNAUTHORIZED", message: "Unauthorized" };
        }
        return { ok: false, type: "AUTHORIZER_CONFIGURATION_ERROR", message: null };
      }
      latency = Date.now() - invokedAt;
      const read = readAnswer(result.payload);
      if (!read) return { ok: false, type: "AUTHORIZER_CONFIGURATION_ERROR", message: null };
      answer = { ...read, expires: now() + model.ttlSeconds * 1000 };
      if (model.ttlSeconds > 0) cache.set(token, answer);
    }
    const verdict = evaluate(answer.statements, methodArn);
    if (verdict === "deny") {
      return {
        ok: false,
        type: "ACCESS_DENIED",
        message: "User is not authorized to access this resource with an explicit deny",
      };
    }
    if (verdict === "none") {
      return { ok: false, type: "ACCESS_DENIED", message: "User is not authorized to access this resource" };
    }
    return {
      ok: true,
      // As in the proxy event: the answer's context, its principal, and the authorizer's latency (0 when cached).
      context: { ...answer.context, principalId: answer.principalId, integrationLatency: latency },
      ...(answer.usageIdentifierKey !== undefined && { usageIdentifierKey: answer.usageIdentifierKey }),
    };
  };

  return {
    authorize,
    get invocations() {
      return invocations;
    },
  };
}

/** The authorizer's answer, or undefined when API Gateway would refuse it (500). */
function readAnswer(payload: unknown): Omit<CachedAnswer, "expires"> | undefined {
  if (payload === null || typeof payload !== "object") return undefined;
  const answer = payload as Record<string, unknown>;
  const document = answer["policyDocument"] as Record<string, unknown> | undefined;
  if (typeof answer["principalId"] !== "string" || !document || !Array.isArray(document["Statement"])) {
    return undefined;
  }
  const statements: Statement[] = [];
  for (const raw of document["Statement"] as Record<string, unknown>[]) {
    const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [String(v)]);
    statements.push({
      effect: String(raw["Effect"]),
      actions: list(raw["Action"]),
      resources: list(raw["Resource"]),
    });
  }
  // Context values are strings, numbers or booleans; API Gateway hands them on as strings.
  const context: Record<string, string> = {};
  for (const [key, value] of Object.entries((answer["context"] ?? {}) as Record<string, unknown>)) {
    if (value !== null && typeof value === "object") return undefined;
    context[key] = String(value);
  }
  const usage = answer["usageIdentifierKey"];
  return {
    principalId: answer["principalId"],
    statements,
    context,
    ...(typeof usage === "string" && { usageIdentifierKey: usage }),
  };
}

function evaluate(statements: Statement[], methodArn: string): "allow" | "deny" | "none" {
  const applies = (s: Statement) =>
    s.actions.some((a) => wildcard(a, "execute-api:Invoke")) &&
    s.resources.some((r) => wildcard(r, methodArn));
  if (statements.some((s) => s.effect === "Deny" && applies(s))) return "deny";
  return statements.some((s) => s.effect === "Allow" && applies(s)) ? "allow" : "none";
}

/** IAM's `*` and `?` wildcards. */
function wildcard(pattern: string, value: string): boolean {
  const source = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${source}$`).test(value);
}

/**
 * API Gateway's validation expressions are Java regular expressions: the common subset is the
 * same in JavaScript; Java's leading inline flags (`(?i)`, `(?s)`, `(?m)`) become RegExp flags.
 */
export function javaRegExp(expression: string): RegExp {
  const inline = /^\(\?([ism]+)\)/.exec(expression);
  return inline ? new RegExp(expression.slice(inline[0].length), inline[1]) : new RegExp(expression);
}
