import { RemovalPolicy, Validations } from "aws-cdk-lib";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
// Placeholder the operator replaces; the tasks treat it as "not configured".
import { M365_CLIENT_ID_PLACEHOLDER } from "../../functions/commons/config.ts";
import type { LambdaFunction } from "./lambda-function.ts";

export { M365_CLIENT_ID_PLACEHOLDER };

/**
 * The multi-tenant Entra application the tasks sign in as, in one Secrets Manager secret:
 * `{"clientId": "<application id>", "clientCertificate": "<PEM: certificate and private key>"}`
 * (Microsoft documents certificates for Exchange app-only), or `"clientSecret": "<secret>"`
 * instead, for development only (the tasks log a warning). The stack creates it with a
 * placeholder client id and a random `clientSecret` filler (kept as it was: changing the
 * generated template of an existing secret would make CloudFormation generate a new value over
 * what the operator put in); the operator replaces the whole value after the first deploy
 * (docs/deploy.md).
 * The value never appears in the template or in environment variables: functions get
 * `M365_SECRET_ARN` and read the secret at cold start.
 */
export class M365Credentials extends Construct {
  readonly secret: Secret;
  /** Environment variable that carries the secret's ARN. */
  readonly envVarName = "M365_SECRET_ARN";

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.secret = new Secret(this, "Secret", {
      description:
        "Microsoft 365 multi-tenant app: {clientId, clientCertificate (PEM with private key)}. Fill in after deploy.",
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ clientId: M365_CLIENT_ID_PLACEHOLDER }),
        generateStringKey: "clientSecret",
        excludePunctuation: true,
        passwordLength: 40,
      },
      // Redeploying must never wipe what the operator typed in.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.secret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "The app's certificate (or development secret) is registered in Microsoft Entra and cannot be rotated by a Secrets Manager rotation function; the operator uploads a new certificate to Entra before the old one expires and puts its PEM here (docs/deploy.md).",
    });
  }

  /** Sets `M365_SECRET_ARN` on the function and lets it read the secret. */
  bind(fn: LambdaFunction): void {
    fn.bindSecret(this.secret, this.envVarName);
  }
}
