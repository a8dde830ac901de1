/**
 * The real thing, once: `npx cdk synth` through the CDK CLI, offline and without AWS
 * credentials, with every Lambda bundled by the local esbuild; then each bundle is loaded in a
 * fresh Node process, as Lambda's Node.js 24 runtime would, to catch ESM/CommonJS interop
 * faults (a CommonJS dependency calling `require` inside the ESM bundle) before a deploy does.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_MODULES } from "../functions/console/assets.ts";

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "node_modules", ".bin");

/** The environment without anything that could reach AWS: no credentials, no instance metadata. */
function offlineEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("AWS_") && !key.startsWith("CDK_")) env[key] = value;
  }
  return {
    ...env,
    PATH: `${BIN}${delimiter}${process.env["PATH"] ?? ""}`,
    AWS_EC2_METADATA_DISABLED: "true",
    CDK_DISABLE_VERSION_CHECK: "true",
    ...extra,
  };
}

type Template = { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };

let outdir: string;
let synth: { stdout: string; stderr: string };
let template: Template;

// 180 s: the synth with real bundling took about 46 s in a CI run on this machine while other
// test runs loaded it (the file's 50.7 s less its cases' 4.5 s); 120 s left 2.6x of that.
beforeAll(async () => {
  outdir = await mkdtemp(join(tmpdir(), "cdk-synth-"));
  synth = await run("npx", ["cdk", "synth", "--quiet", "--output", outdir], {
    cwd: ROOT,
    env: offlineEnv(),
    maxBuffer: 16 * 1024 * 1024,
  });
  template = JSON.parse(await readFile(join(outdir, "JournalOnboarding.template.json"), "utf8"));
}, 180_000);

afterAll(async () => {
  if (outdir) await rm(outdir, { recursive: true, force: true });
});

const functions = () =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === "AWS::Lambda::Function");

/** Stand-ins for the values CloudFormation fills in at deploy time. */
function fakeEnvironment(variables: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(variables).map(([key, value]) => {
      if (typeof value === "string") return [key, value];
      if (key.endsWith("_ARN")) return [key, "arn:aws:states:us-east-1:000000000000:stateMachine:fake"];
      if (key.endsWith("_URL")) return [key, "http://127.0.0.1:9/000000000000/fake.fifo"];
      return [key, "fake"];
    }),
  );
}

describe("npx cdk synth with real bundling", () => {
  it("exits 0 offline and writes the template", () => {
    // execFile rejects on a non-zero exit; reaching here means 0.
    expect(synth.stderr).not.toMatch(/\berror\b/i);
    expect(functions().length).toBeGreaterThan(0);
  });

  it("bundles every function as minified ESM with a source map and the require shim", async () => {
    for (const [id, fn] of functions()) {
      const key = (fn.Properties["Code"] as { S3Key: string }).S3Key;
      const dir = join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
      const code = await readFile(join(dir, "index.mjs"), "utf8");
      expect(code.startsWith("import { createRequire as __journalCreateRequire }"), id).toBe(true);
      expect(code, id).toMatch(/\/\/# sourceMappingURL=index\.mjs\.map\s*$/);
      await expect(readFile(join(dir, "index.mjs.map"), "utf8")).resolves.toContain('"mappings"');
    }
  });

  it("every bundle loads in Node 24 and exports a handler function", async () => {
    const results = await Promise.all(
      functions().map(async ([id, fn]) => {
        const key = (fn.Properties["Code"] as { S3Key: string }).S3Key;
        const entry = join(outdir, `asset.${key.replace(/\.zip$/, "")}`, "index.mjs");
        const variables = (fn.Properties["Environment"] as { Variables: Record<string, unknown> }).Variables;
        try {
          const { stdout } = await run(
            "node",
            [
              "--input-type=module",
              "-e",
              "const m = await import(process.argv[1]); console.log(typeof m.handler);",
              entry,
            ],
            {
              cwd: tmpdir(),
              timeout: 20_000,
              env: offlineEnv({
                ...fakeEnvironment(variables),
                AWS_REGION: "us-east-1",
                AWS_LAMBDA_FUNCTION_NAME: id,
                AWS_ACCESS_KEY_ID: "AKIDFAKE",
                AWS_SECRET_ACCESS_KEY: "fake",
                // Anything that talks to AWS while loading fails fast on loopback.
                AWS_ENDPOINT_URL: "http://127.0.0.1:9",
              }),
            },
          );
          return { id, result: stdout.trim() };
        } catch (error) {
          return { id, result: String((error as { stderr?: string }).stderr ?? error).slice(0, 2000) };
        }
      }),
    );
    expect(results).toEqual(results.map(({ id }) => ({ id, result: "function" })));
  });

  it("the one task function's bundle routes by the payload's task name and refuses an unknown one", async () => {
    const tasks = functions().filter(([, fn]) =>
      String(fn.Properties["Description"]).startsWith("Workflow tasks"),
    );
    expect(tasks).toHaveLength(1);
    const [id, fn] = tasks[0]!;
    const key = (fn.Properties["Code"] as { S3Key: string }).S3Key;
    const variables = (fn.Properties["Environment"] as { Variables: Record<string, unknown> }).Variables;
    const { stdout } = await run(
      "node",
      [
        "--input-type=module",
        "-e",
        `const { handler } = await import(process.argv[1]);
         const answer = await handler({ task: "toString", tenantId: "t", run: 1 }, {}).then(() => "ran", (e) => e.message);
         console.log(JSON.stringify(answer));`,
        join(outdir, `asset.${key.replace(/\.zip$/, "")}`, "index.mjs"),
      ],
      {
        cwd: tmpdir(),
        timeout: 20_000,
        env: offlineEnv({
          ...fakeEnvironment(variables),
          AWS_REGION: "us-east-1",
          AWS_LAMBDA_FUNCTION_NAME: id,
          AWS_ENDPOINT_URL: "http://127.0.0.1:9",
          POWERTOOLS_DEV: "true",
        }),
      },
    );
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toBe('Unknown workflow task "toString".');
  });

  it("the API bundle carries the console's static files and serves them without AWS", async () => {
    const served = await Promise.all(
      functions().map(async ([, fn]) => {
        const key = (fn.Properties["Code"] as { S3Key: string }).S3Key;
        const dir = join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
        const files = await readdir(join(dir, "static")).catch(() => []);
        return { dir, files };
      }),
    );
    const withConsole = served.filter((s) => s.files.length > 0);
    expect(withConsole).toHaveLength(1);
    expect(withConsole[0]!.files.sort()).toEqual(["app.js", "index.html", "js", "styles.css", "vendor"]);
    // app.js's modules, one per view, travel with it.
    expect((await readdir(join(withConsole[0]!.dir, "static", "js"))).sort()).toEqual(
      CONSOLE_MODULES.map((m) => `${m}.js`).sort(),
    );
    expect((await readdir(join(withConsole[0]!.dir, "static", "vendor"))).sort()).toEqual([
      "uPlot.iife.min.js",
      "uPlot.min.css",
    ]);
    const { stdout } = await run(
      "node",
      [
        "--input-type=module",
        "-e",
        `const { handler } = await import(process.argv[1]);
         const r = await handler({ httpMethod: "GET", path: "/console/app.js" }, {});
         const v = await handler({ httpMethod: "GET", path: "/console/vendor/uPlot.iife.min.js" }, {});
         const m = await handler({ httpMethod: "GET", path: "/console/js/tenants.js" }, {});
         console.log(JSON.stringify({ status: r.statusCode, csp: r.headers["content-security-policy"], size: r.body.length, vendor: [v.statusCode, v.body.length], module: [m.statusCode, m.body.length] }));`,
        join(withConsole[0]!.dir, "index.mjs"),
      ],
      {
        cwd: tmpdir(),
        timeout: 20_000,
        env: offlineEnv({ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL: "http://127.0.0.1:9" }),
      },
    );
    const answer = JSON.parse(stdout.trim()) as {
      status: number;
      csp: string;
      size: number;
      vendor: number[];
      module: number[];
    };
    expect(answer.status).toBe(200);
    expect(answer.csp).toContain("script-src 'self'");
    expect(answer.size).toBeGreaterThan(1000);
    // The chart library comes from the bundle's copy (cwd is elsewhere: no node_modules to fall back on).
    expect(answer.vendor[0]).toBe(200);
    expect(answer.vendor[1]).toBeGreaterThan(20_000);
    expect(answer.module[0]).toBe(200);
    expect(answer.module[1]).toBeGreaterThan(1000);
  });
});
