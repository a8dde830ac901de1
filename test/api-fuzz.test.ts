/**
 * A generated corpus of bad requests (fast-check). The body mutations are derived from the
 * JSON Schema of the request in the OpenAPI document the API serves: every required field
 * removed, every field given a wrong type, every pattern, enum and length broken, unknown
 * fields at every level, the split/groups rule broken. Every answer must be a 4xx problem that
 * matches the document, never a 5xx, and nothing may change: no tenant, no workflow start.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Repeatable runs in CI; FC_SEED=<n> explores other inputs.
fc.configureGlobal({ seed: Number(process.env["FC_SEED"] ?? 20261127) });

import { TENANT_STATUSES } from "../functions/domain/tenant.ts";
import { newTenantId, startTestApi, type TestApi } from "./support/api.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  pattern?: string;
  maxLength?: number;
  minLength?: number;
  enum?: string[];
  const?: unknown;
  items?: JsonSchema;
  $ref?: string;
};

let t: TestApi;
let partner: { partnerId: string; key: string };
let requestSchema: JsonSchema;
let tenantsBefore: number;
let startsBefore: number;

async function tenantCount(): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await t.store.listTenants({ limit: 100, ...(cursor && { cursor }) });
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor);
  return count;
}

beforeAll(async () => {
  t = await startTestApi();
  partner = await t.newPartner();
  const doc = (await t.call("GET", "/v1/openapi.json", { key: partner.key })).body;
  requestSchema = doc.components.schemas.OnboardingRequest;
  tenantsBefore = await tenantCount();
  startsBefore = t.engine.starts.length;
});

afterAll(async () => {
  // The whole corpus changed nothing.
  expect(await tenantCount()).toBe(tenantsBefore);
  expect(t.engine.starts.length).toBe(startsBefore);
});

// ---- valid bodies ---------------------------------------------------------------------------

const address = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,12}$/), fc.stringMatching(/^[a-z]{1,12}$/))
  .map(([local, domain]) => `${local}@${domain}.example`);
// Every optional field must appear in some valid bodies: the mutations of a field filter on it.
const group = fc.record(
  {
    name: fc.stringMatching(/^[A-Za-z0-9 ]{1,64}$/),
    primarySmtpAddress: address,
    members: fc.array(address, { maxLength: 5 }),
    owners: fc.array(address, { minLength: 1, maxLength: 3 }),
  },
  { requiredKeys: ["name", "primarySmtpAddress", "members"] },
);
const validBody = fc
  .record(
    {
      tenantId: fc.uuid(),
      customerName: fc.stringMatching(/^[a-z0-9-]{1,63}$/),
      region: fc.constantFrom("us", "eu", "split"),
      outboundGateway: fc.boolean(),
      ndrAddress: address,
      groups: fc.record({ eu: group, us: group }),
    },
    { requiredKeys: ["tenantId", "customerName", "region", "ndrAddress", "groups"] },
  )
  .map(
    ({ groups, ...body }) => (body.region === "split" ? { ...body, groups } : body) as Record<string, Json>,
  );

// ---- mutations derived from the schema ------------------------------------------------------

interface FieldSite {
  path: string[];
  schema: JsonSchema;
  required: boolean;
}

/** Every field of the request schema, nested objects included. */
function fieldSites(schema: JsonSchema, path: string[] = []): FieldSite[] {
  const sites: FieldSite[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const childPath = [...path, name];
    sites.push({ path: childPath, schema: child, required: schema.required?.includes(name) ?? false });
    if (child.type === "object") sites.push(...fieldSites(child, childPath));
  }
  return sites;
}

function objectSites(schema: JsonSchema, path: string[] = []): { path: string[]; known: string[] }[] {
  const out = [{ path, known: Object.keys(schema.properties ?? {}) }];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (child.type === "object") out.push(...objectSites(child, [...path, name]));
  }
  return out;
}

const valuesOfType: Record<string, fc.Arbitrary<Json>> = {
  string: fc.string(),
  boolean: fc.boolean(),
  number: fc.double({ noNaN: true, noDefaultInfinity: true }),
  null: fc.constant(null),
  array: fc.array(fc.jsonValue() as fc.Arbitrary<Json>, { maxLength: 3 }),
  object: fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue() as fc.Arbitrary<Json>, { maxKeys: 3 }),
};

function wrongTypeValues(schema: JsonSchema): fc.Arbitrary<Json> {
  const own = schema.type ?? (schema.enum ? "string" : undefined);
  return fc.oneof(...Object.entries(valuesOfType).flatMap(([type, arb]) => (type === own ? [] : [arb])));
}

/** Strings of the right type that break the field's pattern, enum or length. */
function invalidStrings(schema: JsonSchema): fc.Arbitrary<string> | undefined {
  const options: fc.Arbitrary<string>[] = [];
  if (schema.pattern) {
    const re = new RegExp(schema.pattern, "u");
    // Filters run on the union, so a branch that rarely breaks this pattern cannot stall generation.
    const junk = fc.constantFrom(" ", "\u0000", "\n", "!", "..", "@", "é", "\u202e", "<", '"', "A");
    options.push(
      fc
        .oneof(
          fc.string({ unit: "grapheme", maxLength: 80 }),
          fc.string({ unit: "binary-ascii", maxLength: 80 }),
          fc
            .tuple(
              fc.constantFrom("a@b.example", "00000000-0000-4000-8000-000000000000", "contoso", "Group"),
              junk,
            )
            .map(([base, j]) => base + j),
          fc
            .tuple(junk, fc.constantFrom("a@b.example", "00000000-0000-4000-8000-000000000000", "contoso"))
            .map(([j, base]) => j + base),
        )
        .filter((s) => !re.test(s)),
    );
  }
  if (schema.enum) {
    const allowed = new Set(schema.enum);
    options.push(fc.string({ maxLength: 10 }).filter((s) => !allowed.has(s)));
  }
  if (schema.maxLength !== undefined && schema.maxLength < 1000) {
    options.push(fc.integer({ min: 1, max: 40 }).map((extra) => "a".repeat(schema.maxLength! + extra)));
  }
  if (schema.minLength !== undefined && schema.minLength > 0) options.push(fc.constant(""));
  return options.length > 0 ? fc.oneof(...options) : undefined;
}

function getAt(body: Record<string, Json>, path: string[]): Json | undefined {
  let node: Json | undefined = body;
  for (const key of path) {
    if (node === null || typeof node !== "object" || Array.isArray(node)) return undefined;
    node = (node as Record<string, Json>)[key];
  }
  return node;
}

function withAt(body: Record<string, Json>, path: string[], value: Json | undefined): Record<string, Json> {
  const copy = structuredClone(body);
  let node = copy as Record<string, Json>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, Json>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

interface Mutant {
  what: string;
  body: Record<string, Json>;
}

function mutants(): fc.Arbitrary<Mutant> {
  const sites = fieldSites(requestSchema);
  const objects = objectSites(requestSchema);
  const arbitraries: fc.Arbitrary<Mutant>[] = [];
  const present = (body: Record<string, Json>, path: string[]) =>
    path.length === 1 || getAt(body, path.slice(0, -1)) !== undefined;

  for (const site of sites) {
    const where = site.path.join(".");
    if (site.required) {
      arbitraries.push(
        validBody
          .filter((b) => getAt(b, site.path) !== undefined)
          .map((b) => ({ what: `missing ${where}`, body: withAt(b, site.path, undefined) })),
      );
    }
    arbitraries.push(
      fc
        .tuple(
          validBody.filter((b) => present(b, site.path)),
          wrongTypeValues(site.schema),
        )
        .map(([b, v]) => ({ what: `wrong type ${where}`, body: withAt(b, site.path, v) })),
    );
    const bad = invalidStrings(site.schema);
    if (bad) {
      arbitraries.push(
        fc
          .tuple(
            validBody.filter((b) => present(b, site.path)),
            bad,
          )
          .map(([b, v]) => ({
            what: `invalid ${where}: ${JSON.stringify(v)}`,
            body: withAt(b, site.path, v),
          })),
      );
    }
    if (site.schema.type === "array" && site.schema.items) {
      const badItem = invalidStrings(site.schema.items);
      if (badItem) {
        arbitraries.push(
          fc
            .tuple(
              validBody.filter((b) => getAt(b, site.path) !== undefined),
              badItem,
            )
            .map(([b, v]) => ({
              what: `invalid item of ${where}`,
              body: withAt(b, site.path, [...(getAt(b, site.path) as Json[]), v]),
            })),
        );
      }
    }
  }
  for (const object of objects) {
    arbitraries.push(
      fc
        .tuple(
          validBody.filter((b) => object.path.length === 0 || getAt(b, object.path) !== undefined),
          fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !object.known.includes(k)),
          fc.jsonValue() as fc.Arbitrary<Json>,
        )
        .map(([b, key, value]) => ({
          what: `unknown field ${[...object.path, key].join(".")}`,
          body: withAt(b, [...object.path, key], value),
        })),
    );
  }
  // The split rule (if/then/else in the schema).
  arbitraries.push(
    validBody.map((b) =>
      b.region === "split"
        ? { what: "split without groups", body: withAt(b, ["groups"], undefined) }
        : {
            what: "groups without split",
            body: withAt(b, ["groups"], {
              eu: { name: "x", primarySmtpAddress: "a@b.example", members: [] },
              us: { name: "y", primarySmtpAddress: "c@d.example", members: [] },
            }),
          },
    ),
  );
  return fc.oneof(...arbitraries);
}

async function expectRefused(
  method: string,
  path: string,
  options: Parameters<TestApi["call"]>[2],
  allowed: number[],
) {
  const res = await t.call(method, path, options);
  expect(allowed, `${method} ${path}: ${res.status} ${res.raw.body.slice(0, 300)}`).toContain(res.status);
  expect(res.headers["content-type"]).toBe("application/problem+json");
  return res;
}

describe("generated bad requests", () => {
  it("the schema yields mutation sites for every field", () => {
    const paths = fieldSites(requestSchema).map((s) => s.path.join("."));
    expect(paths).toEqual(
      expect.arrayContaining([
        "tenantId",
        "customerName",
        "region",
        "outboundGateway",
        "ndrAddress",
        "groups.eu.name",
        "groups.us.members",
      ]),
    );
  });

  it("sanity: the valid-body generator produces bodies the API accepts", async () => {
    // A control for the corpus below (these register tenants, so they are counted out).
    const samples = fc.sample(validBody, 5);
    for (const body of samples) {
      const res = await t.call("POST", "/v1/tenants", { key: partner.key, body });
      expect(res.status, res.raw.body).toBe(202);
    }
    tenantsBefore += samples.length;
    startsBefore += samples.length;
  });

  it("schema-derived body mutations are 400s with field errors, and register nothing", async () => {
    await fc.assert(
      fc.asyncProperty(mutants(), async ({ what, body }) => {
        const res = await expectRefused("POST", "/v1/tenants", { key: partner.key, body }, [400]);
        expect(res.body.type, what).toBe("/v1/errors#VALIDATION_FAILED");
        expect(res.body.errors.length, what).toBeGreaterThan(0);
        for (const e of res.body.errors) expect(e.pointer, what).toMatch(/^\/body/);
        const tenantId = typeof body.tenantId === "string" ? body.tenantId.toLowerCase() : undefined;
        if (tenantId && /^[0-9a-f-]{36}$/.test(tenantId)) {
          expect(await t.store.getTenant(tenantId), what).toBeUndefined();
        }
      }),
      { numRuns: 400 },
    );
  });

  it("arbitrary JSON values and arbitrary text are 400s", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"),
          fc.string({ unit: "binary", maxLength: 200 }),
        ),
        async (text) => {
          await expectRefused("POST", "/v1/tenants", { key: partner.key, body: text }, [400]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("bodies that are not application/json are 415s", async () => {
    await fc.assert(
      fc.asyncProperty(
        validBody,
        fc.oneof(
          fc.constantFrom(
            "text/plain",
            "application/xml",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json-patch+json",
            "application/json; charset=utf-16",
            "application/jsonx",
          ),
          fc.stringMatching(/^[a-z]{1,10}\/[a-z+.-]{1,15}$/).filter((s) => s !== "application/json"),
        ),
        async (body, contentType) => {
          await expectRefused("POST", "/v1/tenants", { key: partner.key, body, contentType }, [415]);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("bodies over 1 MB are 413s, even valid-looking ones", async () => {
    await fc.assert(
      fc.asyncProperty(validBody, fc.integer({ min: 1, max: 200_000 }), async (body, extra) => {
        const padding = " ".repeat(1024 * 1024 + extra - JSON.stringify(body).length);
        const text = JSON.stringify(body) + padding;
        await expectRefused("POST", "/v1/tenants", { key: partner.key, body: text }, [413]);
      }),
      { numRuns: 10 },
    );
  });

  it("bad tenant ids in the path are 400s (never 5xx, never a change) on every tenant route", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .string({ unit: "grapheme", minLength: 1, maxLength: 60 })
          .filter((s) => !/^[0-9a-fA-F-]{36}$/.test(s)),
        fc.constantFrom(["GET", ""], ["GET", "/events"], ["POST", "/retry"], ["DELETE", ""]),
        async (segment, [method, suffix]) => {
          const path = `/v1/tenants/${encodeURIComponent(segment)}${suffix}`;
          await expectRefused(method!, path, { key: partner.key }, [400]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("bad query parameters are 400s", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc
            .string({ maxLength: 8 })
            .filter((s) => !/^[0-9]{1,3}$/.test(s) || Number(s) < 1 || Number(s) > 100)
            .map((limit) => ({ limit })),
          fc.string({ minLength: 1, maxLength: 60 }).map((cursor) => ({ cursor })),
          fc
            .string({ maxLength: 12 })
            .filter((s) => !(TENANT_STATUSES as readonly string[]).includes(s))
            .map((status) => ({ status })),
          fc
            .string({ minLength: 1, maxLength: 10 })
            .filter((k) => !["limit", "cursor", "status", "partnerId"].includes(k))
            .map((k) => ({ [k]: "1" })),
        ),
        async (query) => {
          await expectRefused("GET", "/v1/tenants", { key: partner.key, query }, [400]);
        },
      ),
      // A key that an object assignment would swallow as the prototype (found by this test).
      { numRuns: 150, examples: [[{ ["__proto__"]: "1" }], [{ constructor: "1" }]] },
    );
  });

  it("a bad request from another partner on a real tenant is still a 4xx and changes nothing", async () => {
    const tenantId = newTenantId();
    await t.call("POST", "/v1/tenants", {
      key: partner.key,
      body: { tenantId, customerName: "c", region: "us", ndrAddress: "a@b.example" },
    });
    tenantsBefore += 1;
    startsBefore += 1;
    const other = await t.newPartner();
    for (const [method, suffix] of [
      ["GET", ""],
      ["POST", "/retry"],
      ["DELETE", ""],
    ] as const) {
      await expectRefused(method, `/v1/tenants/${tenantId}${suffix}`, { key: other.key }, [404]);
    }
    expect((await t.store.getTenant(tenantId))?.tenant.status).toBe("queued");
  });
});
