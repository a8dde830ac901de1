/** Microsoft 365 adapter: the `M365Gateway` port over Entra ID, Graph and Exchange Online. */
export { parseRetryAfter } from "../../commons/http.ts";
export { type M365ErrorDetails, m365ErrorDetails, parseODataError } from "./error-model.ts";
export { EXCHANGE_SYSTEM_MAILBOX, ExchangeClient } from "./exchange-client.ts";
export {
  consentUrl,
  createM365Gateway,
  createM365GatewayFromEnv,
  type M365GatewayOptions,
} from "./gateway.ts";
export { type M365CallEvent, type OnCall, type RetryOptions, RetryPolicy } from "./retry.ts";
export { TokenProvider } from "./tokens.ts";
