/**
 * `npm run start:aws`: the deployed form, run on this machine. The stack as `cdk synth` writes
 * it (cdk.out, synthesized first when missing or stale): every function's bundle in Lambda-like
 * environments (lambda/), the AWS services they call behind an IAM-checking endpoint (cloud/),
 * the REST API on PORT (apigateway/), the state machines (stepfunctions/) and the EventBridge
 * rules (events/). A drop-in for `npm start`: the same variables, banner, /health and graceful
 * SIGTERM/SIGINT; state in DATA_DIR survives a restart and a SIGKILL.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { strandedAfterMsOf } from "../../functions/domain/stranded-sweep.ts";
import { lockDataDir } from "../local/data-dir-lock.ts";
import { loopbackPorts } from "../local/own-ports.ts";
import { driftSettingsFromEnv } from "../local/parts/drift-schedule.ts";
import { startApiGateway } from "./apigateway/index.ts";
import { freePort } from "./cloud/dynamodb.ts";
import { startLocalCloud } from "./cloud/index.ts";
import type { Part } from "./contracts.ts";
import { registerApiControls, registerControls } from "./controls.ts";
import { startEventRules } from "./events/index.ts";
import { CredentialStore } from "./lambda/credentials.ts";
import { createLambdaService } from "./lambda/index.ts";
import { m365App, ROOT, synthIfStale } from "./setup.ts";
import { createStepFunctions } from "./stepfunctions/index.ts";
import { loadAssembly } from "./template.ts";

const started = Date.now();
const env = process.env;
const log = (line: string) => process.stdout.write(`${line}\n`);
// A free one now when PORT=0: the consent redirect below must name it before the API starts.
const port = Number(env["PORT"] ?? 3000) || (await freePort());
const dataDir = resolve(env["DATA_DIR"] ?? ".data");
const awsDir = join(dataDir, "aws");
mkdirSync(awsDir, { recursive: true, mode: 0o700 });
const graceMs = Number(env["SHUTDOWN_GRACE_MS"] ?? 30_000);
const parts: Part[] = [];
let unlock: () => void = () => undefined;

async function start() {
  unlock = await lockDataDir(dataDir);
  const cdkOut = resolve(env["CDK_OUT"] ?? join(ROOT, "cdk.out"));
  synthIfStale(cdkOut, log);
  const credentials = new CredentialStore();
  const m365 = await m365App(env, dataDir);
  if (m365.simulator) parts.push(m365.simulator);
  // The cloud endpoint's URL is needed to resolve queue URLs: load once for the cloud, once after.
  const preliminary = loadAssembly(cdkOut, { cloudUrl: "http://127.0.0.1:0" });
  const cloud = await startLocalCloud({ assembly: preliminary, dataDir: awsDir, credentials, log });
  parts.push(cloud);
  const assembly = loadAssembly(cdkOut, { cloudUrl: cloud.endpoint.url });
  const secretOf = (envName: string) => {
    for (const [, r] of assembly.ofType("AWS::Lambda::Function")) {
      const ref = (r.Properties?.["Environment"] as { Variables?: Record<string, unknown> })?.Variables?.[
        envName
      ];
      if (ref) return String(assembly.resolve(ref));
    }
    return undefined;
  };
  const m365SecretArn = secretOf("M365_SECRET_ARN");
  if (m365SecretArn) cloud.secrets.put(m365SecretArn, JSON.stringify(m365.secret));
  const opsSecretArn = secretOf("OPS_API_KEY_SECRET_ARN");
  if (opsSecretArn && env["OPS_API_KEY"]) cloud.secrets.put(opsSecretArn, env["OPS_API_KEY"]);
  const opsApiKey = (opsSecretArn && cloud.secrets.get(opsSecretArn)) || "";
  // Where `npm start` keeps its generated key, so that the README's walk-through reads it the same way.
  if (!env["OPS_API_KEY"]) writeFileSync(join(dataDir, "ops-api-key"), `${opsApiKey}\n`, { mode: 0o600 });

  const ownPorts = loopbackPorts([
    `http://127.0.0.1:${port}`,
    cloud.endpoint.url,
    cloud.db.endpoint,
    m365.simulator?.url,
    ...Object.values(m365.simulator?.endpoints ?? {}),
  ]);
  // As `npm start` reads it (checked the same way); else the stack's driftRemediationsPerDay.
  const remediations = env["DRIFT_REMEDIATIONS_PER_DAY"]?.trim()
    ? String(
        driftSettingsFromEnv({ DRIFT_REMEDIATIONS_PER_DAY: env["DRIFT_REMEDIATIONS_PER_DAY"] })
          .remediationsPerDay,
      )
    : undefined;
  const lambda = createLambdaService({
    assembly,
    credentials,
    cloudUrl: cloud.endpoint.url,
    nodePath: join(ROOT, "node_modules/.bin/node"),
    overrides: (_id, fnEnv) => ({
      ...(fnEnv["M365_CLOUD"] || fnEnv["M365_SECRET_ARN"] ? m365.env : {}),
      // Served over http here: the consent callback is this port's (the stack's
      // consentRedirectUri setting, as behind a custom domain), unless M365_CONSENT_REDIRECT_URI says.
      ...(fnEnv["M365_CLOUD"] && !env["M365_CONSENT_REDIRECT_URI"]
        ? { M365_CONSENT_REDIRECT_URI: `http://127.0.0.1:${port}/v1/consent/callback` }
        : {}),
      ...(m365.env["NODE_EXTRA_CA_CERTS"] ? { NODE_EXTRA_CA_CERTS: m365.env["NODE_EXTRA_CA_CERTS"] } : {}),
      ...(env["LOG_LEVEL"] ? { POWERTOOLS_LOG_LEVEL: env["LOG_LEVEL"] } : {}),
      ...(env["WEBHOOK_ALLOW_LOOPBACK"] ? { WEBHOOK_ALLOW_LOOPBACK: env["WEBHOOK_ALLOW_LOOPBACK"] } : {}),
      // A loopback webhook may target none of this form's own parts (as `npm start`'s refuses its
      // own); with them known, a refusal of http or loopback names WEBHOOK_ALLOW_LOOPBACK.
      WEBHOOK_OWN_PORTS: ownPorts.join(","),
      ...(env["WEBHOOK_TIMEOUT_MS"] ? { WEBHOOK_TIMEOUT_MS: env["WEBHOOK_TIMEOUT_MS"] } : {}),
      ...(env["WEBHOOK_RETRY_SCHEDULE"] !== undefined
        ? { WEBHOOK_RETRY_SCHEDULE: env["WEBHOOK_RETRY_SCHEDULE"] }
        : {}),
      // As `npm start` reads it; else the stack's (5 minutes).
      ...(env["STRANDED_AFTER_SECONDS"]?.trim() && fnEnv["STRANDED_AFTER_SECONDS"]
        ? { STRANDED_AFTER_SECONDS: String(strandedAfterMsOf(env["STRANDED_AFTER_SECONDS"]) / 1000) }
        : {}),
      ...(remediations && fnEnv["DRIFT_REMEDIATIONS_PER_DAY"]
        ? { DRIFT_REMEDIATIONS_PER_DAY: remediations }
        : {}),
    }),
  });
  parts.push(lambda);
  const events = startEventRules({
    assembly,
    invoke: lambda.invoke,
    dataDir: awsDir,
    // A target's dead-letter queue is a queue of this form's SQS (attributes are not kept).
    sendToQueue: async (queueArn, body) => {
      const queue = cloud.sqs.queue(queueArn);
      if (queue) cloud.sqs.send(queue, { body });
    },
  });
  parts.push(events);
  const stepFunctions = createStepFunctions({
    assembly,
    invoke: lambda.invoke,
    dataDir: awsDir,
    retryScale: Number(env["WORKFLOW_RETRY_SCALE"] ?? 1),
    onStatusChange: (event) => events.publish(event),
  });
  parts.push(stepFunctions);
  cloud.endpoint.register("states", stepFunctions.handler);
  registerControls({ assembly, cloud, lambda, events, stepFunctions });
  const api = await startApiGateway({ assembly, invoke: lambda.invoke, port, dataDir: awsDir });
  parts.push(api);
  cloud.endpoint.register("apigateway", api.management);
  registerApiControls(cloud, api.usagePlans);
  parts.push(cloud.startMappings(lambda.invoke));
  return { api, cloud, m365, opsApiKey, stepFunctions };
}

const form = await start().catch(async (err: unknown) => {
  process.stderr.write(
    `Could not start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  await closeAll();
  process.exit(1);
});

async function closeAll() {
  for (const part of parts.reverse()) await part.close().catch(() => undefined);
  parts.length = 0;
  unlock();
}

// Where a test or a tool finds this form's parts (the ops key is not in it).
writeFileSync(
  join(awsDir, "form.json"),
  `${JSON.stringify({ pid: process.pid, url: form.api.url, cloudUrl: form.cloud.endpoint.url, dynamodbUrl: form.cloud.db.endpoint, simulatorUrl: form.m365.simulator?.url, simulatorCaPath: form.m365.simulator?.caPath, simulatorEndpoints: form.m365.simulator?.endpoints }, null, 2)}\n`,
);

const keyShown = !env["OPS_API_KEY"];
const key = keyShown ? form.opsApiKey : "$OPS_API_KEY";
const url = form.api.url;
process.stdout.write(
  `${[
    "",
    `  Journal onboarding API   ${url}`,
    `  Health                   ${url}/health`,
    `  Console                  ${url}/console   (type the ops key)`,
    `  OpenAPI (needs a key)    curl -H "Authorization: Bearer ${key}" ${url}/v1/openapi.json`,
    `  Ops API key              ${keyShown ? `${form.opsApiKey}   (the stack's ops key secret, kept in DATA_DIR/ops-api-key)` : "from OPS_API_KEY"}`,
    `  Microsoft 365            ${form.m365.simulator ? `built-in simulator at ${form.m365.simulator.url}` : "the configured app (M365_CLIENT_ID)"}`,
    ...(form.m365.simulator
      ? [
          `  Simulator CA             ${form.m365.simulator.caPath}   (curl --cacert; trust it in a browser to open consent links)`,
        ]
      : []),
    ...(form.m365.simulator && env["M365_SIMULATOR_CONFIG"]?.trim()
      ? [`  Simulator behaviours     ${env["M365_SIMULATOR_CONFIG"].trim()}   (M365_SIMULATOR_CONFIG)`]
      : []),
    `  State                    ${dataDir}`,
    `  AWS form                 cdk.out in Lambda-like environments; local AWS endpoint ${form.cloud.endpoint.url} (stats: /_form/stats); serving after ${((Date.now() - started) / 1000).toFixed(1)} s`,
    "",
    `  Ctrl-C (or SIGTERM) stops it; running workflows get ${Math.round(graceMs / 1000)} s to finish.`,
    "",
  ].join("\n")}\n`,
);

let stopping = 0;
const stop = async (signal: string) => {
  if (stopping) {
    if (Date.now() - stopping < 1_000) return;
    process.stdout.write(`${signal} again: stopping now.\n`);
    unlock();
    process.exit(130);
  }
  stopping = Date.now();
  process.stdout.write(
    `\n${signal}: stopping (running workflows get up to ${Math.round(graceMs / 1000)} s; ${signal} again to stop now)...\n`,
  );
  const idle = form.stepFunctions.idle();
  await Promise.race([idle, new Promise((r) => setTimeout(r, graceMs).unref())]);
  await closeAll();
  process.stdout.write("Stopped.\n");
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
