/** Faults: the ones a test injects (`failNext`), the random ones (`faults` rates) and their answers. */
import type { ServerResponse } from "node:http";
import { exchangeError, statusCode } from "./exchange/invoke.ts";
import { aadstsCode, entraError, send, sleep } from "./http.ts";
import type { FaultRates, SimCall, SimFault } from "./types.ts";

interface PendingFault {
  fault: SimFault;
  remaining: number;
}

/** The injected faults waiting for their operation, per tenant (or `*`) and operation. */
export class PendingFaults {
  readonly #pending = new Map<string, PendingFault[]>();

  add(tenantId: string, operation: string, fault: SimFault, times = 1): void {
    const key = `${tenantId.toLowerCase()}|${operation.toLowerCase()}`;
    const list = this.#pending.get(key) ?? [];
    list.push({ fault, remaining: Math.max(1, Math.floor(times)) });
    this.#pending.set(key, list);
  }

  take(tenantId: string, operation: string): SimFault | undefined {
    for (const key of [`${tenantId}|${operation.toLowerCase()}`, `*|${operation.toLowerCase()}`]) {
      const list = this.#pending.get(key);
      const head = list?.[0];
      if (!list || !head) continue;
      head.remaining -= 1;
      if (head.remaining <= 0) list.shift();
      if (list.length === 0) this.#pending.delete(key);
      return head.fault;
    }
    return undefined;
  }

  clear(): void {
    this.#pending.clear();
  }
}

export function drawRandomFault(f: Required<FaultRates>, random: () => number): SimFault | undefined {
  if (f.throttleRate + f.serverErrorRate + f.dropRate <= 0) return undefined;
  const r = random();
  if (r < f.throttleRate) return { kind: "throttle", retryAfterSeconds: f.retryAfterSeconds };
  if (r < f.throttleRate + f.serverErrorRate) return { kind: "server-error" };
  if (r < f.throttleRate + f.serverErrorRate + f.dropRate) return { kind: "drop" };
  return undefined;
}

/**
 * Applies an injected (or random) fault. Returns true when the answer has been given
 * (or the connection dropped); a `delay` fault waits and lets the call go on.
 */
export async function answerFault(
  call: SimCall,
  res: ServerResponse,
  fault: SimFault | undefined,
  format: "odata" | "entra",
  /** The Retry-After of a throttle fault that names none. */
  retryAfterSeconds: number,
): Promise<boolean> {
  if (!fault) return false;
  const f = typeof fault === "string" ? ({ kind: fault } as Exclude<SimFault, string>) : fault;
  call.fault = f.kind;
  switch (f.kind) {
    case "delay":
      await sleep(f.ms);
      return false;
    case "drop":
      call.status = 0;
      res.socket?.destroy();
      return true;
    case "throttle": {
      const retryAfter = f.retryAfterDate ?? String(f.retryAfterSeconds ?? retryAfterSeconds);
      call.status = 429;
      send(
        res,
        429,
        format === "entra"
          ? entraError(
              "temporarily_unavailable",
              "AADSTS50196: The server terminated an operation because it encountered a client request loop.",
              50196,
            )
          : {
              error: {
                code: "TooManyRequests",
                message: "Too many requests. Retry after the time given in the Retry-After header.",
              },
            },
        { "retry-after": retryAfter },
      );
      return true;
    }
    case "server-error": {
      const status = f.status ?? 503;
      call.status = status;
      if (format === "entra") {
        send(
          res,
          status,
          entraError(
            "temporarily_unavailable",
            "AADSTS90033: A transient error has occurred. Please try again.",
            90033,
          ),
        );
        return true;
      }
      send(res, status, {
        error: {
          code: "ServiceUnavailable",
          message: "The service is temporarily unavailable. Try again later.",
        },
      });
      return true;
    }
    case "adminapi-errors":
      // Answered by the Exchange endpoint (a 200 with @adminapi.errors); elsewhere, no fault.
      call.fault = undefined;
      return false;
    case "error": {
      call.status = f.status;
      if (format === "entra") {
        send(res, f.status, entraError(f.code ?? "invalid_request", f.message, aadstsCode(f.message)));
      } else if (call.service === "exchange") {
        send(
          res,
          f.status,
          exchangeError(
            f.status,
            f.exceptionType ?? "System.InvalidOperationException",
            f.message,
            "Ex000000",
          ),
        );
      } else {
        send(res, f.status, { error: { code: f.code ?? statusCode(f.status), message: f.message } });
      }
      return true;
    }
  }
}
