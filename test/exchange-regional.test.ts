/**
 * Regional redirects: the front door answers some tenants with a 302 to their regional host. The
 * client follows it itself (same method, body and token), only to hosts of the cloud's Exchange
 * domain (port 446 read as 443), keeps the regional host for the tenant's next calls, and accepts
 * nextLinks on it. Against the HTTPS simulator, whose regional hosts are names under localhost.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExchangeHosts } from "../functions/adapters/m365/exchange-hosts.ts";
import { createM365Gateway } from "../functions/adapters/m365/gateway.ts";
import { InvalidRequestError } from "../functions/domain/errors.ts";
import { REGIONAL_DOMAIN, type Simulator, startSimulator } from "../infra/local/m365-simulator/index.ts";
import { caught } from "./support/m365.ts";

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ regionalRedirect: 1, pageSize: 2 });
});
afterAll(async () => {
  await sim?.close();
});

const gateway = (exchangeDomain?: string) =>
  createM365Gateway({
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    endpoints: sim.endpoints,
    retry: { baseDelayMs: 1, maxDelayMs: 10 },
    ...(exchangeDomain ? { exchangeDomain } : {}),
  });
const exchangeCalls = (tenantId: string) => sim.calls(tenantId).filter((c) => c.service === "exchange");

describe("the hosts a token may go to", () => {
  it("the endpoint and subdomains of the cloud's Exchange domain, https, port 446 read as 443", () => {
    const hosts = new ExchangeHosts("https://outlook.office365.com");
    const base = "https://outlook.office365.com/adminapi/beta/t/InvokeCommand";
    const ok = (location: string) => hosts.allows(hosts.resolve(location, base));
    expect(ok("https://eur01.outlook.office365.com:446/adminapi/beta/t/InvokeCommand")).toBe(true);
    expect(hosts.resolve("https://eur01.outlook.office365.com:446/x", base).toString()).toBe(
      "https://eur01.outlook.office365.com/x",
    );
    expect(ok("/adminapi/beta/t/InvokeCommand?$skiptoken=2")).toBe(true);
    expect(ok("https://outlook.office365.com.example.com/x")).toBe(false);
    expect(ok("https://example.com/x")).toBe(false);
    expect(ok("http://eur01.outlook.office365.com/x")).toBe(false);
    expect(ok("https://eur01.outlook.office365.com:8443/x")).toBe(false);
    expect(ok("https://outlook.office365.us/x")).toBe(false);
  });
});

describe("a tenant the front door redirects to its regional host", () => {
  it("follows the 302 with the same POST, body and token, pages on the regional host, then calls it directly", async () => {
    const tenantId = crypto.randomUUID();
    const demo = sim.demo(tenantId);
    const exchange = gateway(REGIONAL_DOMAIN).tenant(tenantId).exchange;
    const cmdlets = await exchange.availableCmdlets();
    expect(cmdlets).toContain("New-DistributionGroup");
    await exchange.newDistributionGroup({
      name: "EU",
      primarySmtpAddress: `eu@${demo.domain}`,
      members: [demo.alice, demo.bob, demo.carol.address],
    });
    const members = await exchange.listDistributionGroupMembers("EU");
    expect(members).toHaveLength(3);

    const calls = exchangeCalls(tenantId);
    expect(calls.filter((c) => c.status === 302)).toHaveLength(1);
    expect(calls[0]).toMatchObject({ operation: "EXOModuleFile", status: 302 });
    const listed = calls.filter((c) => c.operation === "Get-DistributionGroupMember");
    expect(listed.map((c) => [c.page ?? 1, c.status])).toEqual([
      [1, 200],
      [2, 200],
    ]);
    expect(sim.tenant(tenantId).groups.find((g) => g.name === "EU")?.members).toHaveLength(3);
  });

  it("refuses a redirect to a host outside the configured Exchange domain, and never sends the token there", async () => {
    const tenantId = crypto.randomUUID();
    const err = await caught(gateway().tenant(tenantId).exchange.getTransportConfig());
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toMatch(
      /redirected to https:\/\/(eur01|nam02)\.localhost:\d+, which is not a host of 127\.0\.0\.1/,
    );
    expect(exchangeCalls(tenantId).map((c) => [c.operation, c.status])).toEqual([["InvokeCommand", 302]]);
  });
});
