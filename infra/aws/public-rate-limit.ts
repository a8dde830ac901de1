/**
 * The API's own AWS WAF web ACL: a rate-based rule that limits, per client IP address, the
 * routes anyone may call without a key (`GET /health`, the consent callback a customer's admin
 * opens, the ops console's files). The stage's method throttles on those routes are shared by
 * every caller; this rule stops one address before it can use them up, so that nobody can keep
 * a customer from consenting. Keyed traffic is not counted by that rule: each key has its own usage
 * plan limit. Past the limit an address gets a 429 problem with `Retry-After` until its rate
 * falls below the limit again (WAF re-evaluates every few seconds over the window).
 *
 * WAF cannot tell an unknown key from a valid one, and every request with a key (unknown ones
 * too, each invoking the authorizer) draws from the stage's throttle that all partners share:
 * a second rule limits every request per client IP address, far above what one partner's usage
 * plan lets through, so that one address sending made-up keys cannot use the stage's limit up.
 */
import { Stack } from "aws-cdk-lib";
import { CfnWebACL } from "aws-cdk-lib/aws-wafv2";
import { Construct } from "constructs";

export interface PublicRateLimitProps {
  /**
   * Requests per client IP address to the public routes within `windowSeconds`; WAF's minimum
   * is 10. @default 300 (one a second on average: a consent takes a handful)
   */
  readonly limit?: number;
  /** The window WAF counts over: 60, 120, 300 or 600 seconds. @default 300 */
  readonly windowSeconds?: 60 | 120 | 300 | 600;
  /**
   * Requests per client IP address to any route within `windowSeconds`, keyed or not.
   * @default 30000 (100/s on average over 5 minutes: four times a partner's default plan, twice the ops key's)
   */
  readonly allRoutesLimit?: number;
}

/**
 * The public paths, found anywhere in the (URL-decoded, lower-cased) URI path: behind the stage
 * prefix or a custom domain's base path, with or without a trailing slash.
 */
export const PUBLIC_PATHS = ["/health", "/v1/consent/callback", "/console"] as const;

const RETRY_AFTER_SECONDS = 60;

/**
 * A regional web ACL (allow by default) with the rate-based rule; associate `webAclArn` with
 * the stage.
 *
 * @example
 * const limit = new PublicRateLimit(this, "PublicRateLimit", { limit: 300 });
 * new CfnWebACLAssociation(this, "WebAcl", { resourceArn: stage.stageArn, webAclArn: limit.webAclArn });
 */
export class PublicRateLimit extends Construct {
  readonly webAcl: CfnWebACL;
  readonly webAclArn: string;

  constructor(scope: Construct, id: string, props: PublicRateLimitProps = {}) {
    super(scope, id);
    const limit = props.limit ?? 300;
    if (!Number.isInteger(limit) || limit < 10)
      throw new Error("the public rate limit must be an integer >= 10");
    const allRoutesLimit = props.allRoutesLimit ?? 30_000;
    if (!Number.isInteger(allRoutesLimit) || allRoutesLimit < limit)
      throw new Error("the all-routes rate limit must be an integer >= the public rate limit");
    const window = props.windowSeconds ?? 300;
    const block = {
      block: {
        customResponse: {
          responseCode: 429,
          customResponseBodyKey: "tooManyRequests",
          responseHeaders: [{ name: "retry-after", value: String(RETRY_AFTER_SECONDS) }],
        },
      },
    };
    const metric = (name: string) => ({
      cloudWatchMetricsEnabled: true,
      metricName: `${Stack.of(this).stackName}-${name}`.replace(/[^A-Za-z0-9_-]/g, "-").slice(0, 128),
      sampledRequestsEnabled: true,
    });
    const path = (searchString: string) => ({
      byteMatchStatement: {
        fieldToMatch: { uriPath: {} },
        positionalConstraint: "CONTAINS",
        searchString,
        textTransformations: [
          { priority: 0, type: "URL_DECODE" },
          { priority: 1, type: "LOWERCASE" },
        ],
      },
    });
    this.webAcl = new CfnWebACL(this, "WebAcl", {
      scope: "REGIONAL",
      description: "Journal onboarding API: per-address rate limits (routes without a key; every route)",
      defaultAction: { allow: {} },
      visibilityConfig: metric("api"),
      customResponseBodies: {
        tooManyRequests: {
          contentType: "APPLICATION_JSON",
          content: JSON.stringify({
            type: "about:blank",
            title: "Too Many Requests",
            status: 429,
            detail: `Too many requests from this address; retry after ${RETRY_AFTER_SECONDS} s.`,
          }),
        },
      },
      rules: [
        {
          name: "PublicRoutesPerAddress",
          priority: 0,
          action: block,
          statement: {
            rateBasedStatement: {
              aggregateKeyType: "IP",
              limit,
              evaluationWindowSec: window,
              scopeDownStatement: {
                orStatement: {
                  statements: PUBLIC_PATHS.map(path),
                },
              },
            },
          },
          visibilityConfig: metric("public-routes-per-address"),
        },
        {
          name: "AllRoutesPerAddress",
          priority: 1,
          action: block,
          statement: {
            rateBasedStatement: {
              aggregateKeyType: "IP",
              limit: allRoutesLimit,
              evaluationWindowSec: window,
            },
          },
          visibilityConfig: metric("all-routes-per-address"),
        },
      ],
    });
    this.webAclArn = this.webAcl.attrArn;
  }
}
