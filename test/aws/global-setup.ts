// `npm run test:aws`: synthesize once (when cdk.out is missing or stale) before the suites
// start their forms, so that no two forms synthesize at once.
import { join } from "node:path";
import { ROOT, synthIfStale } from "../../infra/aws-local/setup.ts";

export default function setup(): void {
  synthIfStale(join(ROOT, "cdk.out"), (line) => process.stdout.write(`${line}\n`));
}
