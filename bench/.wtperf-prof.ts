import { randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { onboardingRequest, postTenant, startApiRuntime } from "./harness.ts";

const MODE = { region: "us", outboundGateway: true } as const;
const api = await startApiRuntime({ simulator: { latencyMs: 0 } });
await postTenant(api.runtime.url, api.partnerKey, onboardingRequest(MODE));
await api.runtime.engine.idle();
api.sim.configure({ latencyMs: 50 });
const s = new Session();
s.connect();
await s.post("Profiler.enable");
await s.post("Profiler.start");
const t = process.threadCpuUsage();
const N = Number(process.env.N ?? 100);
await Promise.all(
  Array.from({ length: N }, () =>
    postTenant(api.runtime.url, api.partnerKey, onboardingRequest(MODE, randomUUID())),
  ),
);
await api.runtime.engine.idle();
const u = process.threadCpuUsage(t);
const { profile } = await s.post("Profiler.stop");
writeFileSync("/tmp/wtperf/prof.json", JSON.stringify(profile));
console.log("main thread CPU ms per onboarding", (u.user + u.system) / 1000 / N);
await api.close();
