/**
 * The stack's template synthesized in process (asset bundling skipped: these tests invoke the
 * source handlers, not the bundles), written to a cloud assembly folder and read back with
 * `loadAssembly`, as `npm run start:aws` reads `cdk.out`. The synthesized template is kept in
 * the temporary folder by a hash of the sources it comes from, so the test files share one synth.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import type { CfnTemplate } from "../../infra/aws-local/contracts.ts";
import { type Assembly, loadAssembly } from "../../infra/aws-local/template.ts";

/** Everything the stack's template can depend on. */
function sources(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
    );
  return [...walk("infra/aws"), ...walk("workflows"), ...walk("functions"), "package-lock.json", "cdk.json"];
}

async function synthesize(): Promise<CfnTemplate> {
  const hash = createHash("sha256");
  for (const file of sources()) hash.update(file).update(readFileSync(file));
  const cached = join(tmpdir(), `aws-form-template-${hash.digest("hex").slice(0, 16)}.json`);
  if (existsSync(cached)) return JSON.parse(readFileSync(cached, "utf8")) as CfnTemplate;
  // One test file synthesizes; the others (run at the same time) wait for its result.
  const lock = `${cached}.lock`;
  const fresh = () => existsSync(lock) && Date.now() - statSync(lock).mtimeMs < 120_000;
  try {
    mkdirSync(lock);
  } catch {
    // A lock left by a run that was killed goes stale after 2 minutes.
    while (fresh() && !existsSync(cached)) await new Promise((resolve) => setTimeout(resolve, 200));
    if (existsSync(cached)) return JSON.parse(readFileSync(cached, "utf8")) as CfnTemplate;
  }
  const { App } = await import("aws-cdk-lib");
  const { Template } = await import("aws-cdk-lib/assertions");
  const { JournalOnboardingStack } = await import("../../infra/aws/stack.ts");
  const app = new App({ context: { "aws:cdk:bundling-stacks": [] } });
  const template = Template.fromStack(new JournalOnboardingStack(app, "JournalOnboarding")).toJSON();
  const tmp = `${cached}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify(template));
  renameSync(tmp, cached);
  rmSync(lock, { recursive: true, force: true });
  return template as CfnTemplate;
}

/** The stack's template as an assembly; `edit` changes a copy first (a test's own variant). */
export async function synthAssembly(edit?: (template: CfnTemplate) => void): Promise<Assembly> {
  const template = structuredClone(await synthesize());
  edit?.(template);
  const dir = temporary("aws-form-");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "JournalOnboarding.template.json"), JSON.stringify(template));
  return loadAssembly(dir, { cloudUrl: "http://127.0.0.1:1" });
}

/** A temporary DATA_DIR. */
export function tempDataDir(): string {
  return temporary("aws-form-data-");
}

const created: string[] = [];
// Registered in the importing test file's root suite.
afterAll(() => {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary folder, removed after the test file's tests. */
function temporary(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}
