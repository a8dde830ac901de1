/**
 * fast-check generators of bad `POST /v1/tenants` requests as they come over the wire: a
 * valid body with one field broken (wrong type, missing, unknown, bad GUID, bad address,
 * broken name or region rule), text that is not JSON (or not an object), bytes that are not
 * UTF-8, the wrong content type, and bodies over 1 MB. Each carries the status the API contract
 * fixes for it. The values are bad by construction (RFC 5321 dot-atom addresses, 8-4-4-4-12
 * GUIDs), not by asking the product's own validator.
 */
import fc from "fast-check";

type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
type Body = Record<string, JsonValue>;

export interface BadRequest {
  /** A field of a valid JSON object, the JSON text, the content type or the size. */
  kind: "field" | "syntax" | "content-type" | "size";
  /** What was broken, for the failure message. */
  what: string;
  contentType: string | undefined;
  body: string | Buffer;
  /** The status the API contract (docs/api.md) gives it. */
  expected: 400 | 413 | 415;
}

// ---- valid parts ---------------------------------------------------------------------------

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
export const goodAddress = fc
  .tuple(
    fc.stringMatching(/^[a-z0-9]{1,10}(\.[a-z0-9]{1,5})?$/),
    label,
    fc.constantFrom("com", "example", "io"),
  )
  .map(([local, domain, tld]) => `${local}@${domain}.${tld}`);
const goodGroup = fc.record({
  name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 ]{0,40}$/),
  primarySmtpAddress: goodAddress,
  members: fc.array(goodAddress, { maxLength: 4 }),
});

/** A body the API accepts (for a tenant the suite never registers: only mutants are sent). */
export const goodBody: fc.Arbitrary<Body> = fc
  .record({
    tenantId: fc.uuid({ version: 4 }),
    customerName: fc.stringMatching(/^[a-z0-9-]{1,63}$/),
    region: fc.constantFrom("us", "eu", "split"),
    outboundGateway: fc.option(fc.boolean(), { nil: undefined }),
    ndrAddress: goodAddress,
    groups: fc.record({ eu: goodGroup, us: goodGroup }),
  })
  .map(({ groups, outboundGateway, ...rest }) => ({
    ...rest,
    ...(outboundGateway !== undefined && { outboundGateway }),
    ...(rest.region === "split" && { groups }),
  }));

// ---- bad values ----------------------------------------------------------------------------

/** Strings that are not 8-4-4-4-12 hex GUIDs. */
export const badGuid: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.uuid(), fc.nat()).map(([g, i]) => g.slice(0, i % g.length) + g.slice((i % g.length) + 1)), // one character fewer
  fc
    .tuple(fc.uuid(), fc.nat(), fc.constantFrom("0", "a", "-"))
    .map(([g, i, c]) => g.slice(0, i % 37) + c + g.slice(i % 37)), // one more
  fc
    .tuple(fc.uuid(), fc.nat(), fc.constantFrom("g", "z", "G", " ", "_", "{", "\u0000", "é", "٣"))
    .map(([g, i, c]) => g.slice(0, i % g.length) + c + g.slice((i % g.length) + 1)), // not hex
  fc.uuid().map((g) => g.replaceAll("-", "")),
  fc.uuid().map((g) => `{${g}}`),
  fc.uuid().map((g) => `urn:uuid:${g}`),
  fc.uuid().map((g) => ` ${g}`),
  fc.uuid().map((g) => `${g}\n`),
  fc.uuid().map((g) => `${g.slice(0, 9)}${g.slice(9).replaceAll("-", "")}-`),
  fc.constantFrom("", "00000000-0000-0000-0000-000000000000-0", "contoso.onmicrosoft.com", "null"),
);

/**
 * Strings that are no SMTP address under any reading (no quoted local parts, IP literals or
 * single-label domains: those are RFC 5321 syntax that the product may refuse, but need not),
 * or are too long.
 */
export const badAddress: fc.Arbitrary<string> = fc.oneof(
  goodAddress.map((a) => a.replace("@", "")),
  goodAddress.map((a) => a.replace("@", "@@")),
  goodAddress.map((a) => `${a}@x.example`),
  goodAddress.map((a) => a.slice(a.indexOf("@"))), // no local part
  goodAddress.map((a) => a.slice(0, a.indexOf("@") + 1)), // no domain
  goodAddress.map((a) => `${a}.`),
  goodAddress.map((a) => `.${a}`),
  goodAddress.map((a) => a.replace("@", ".@")),
  goodAddress.map((a) => a.replace("@", "..x@")),
  goodAddress.map((a) => a.replace("@", "@-")),
  goodAddress.map((a) => `Admin <${a}>`),
  fc
    .tuple(
      goodAddress,
      fc.constantFrom(" ", "\t", "\n", "\u0000", ",", ";", "(", ")", "\\", "[", "]", "<", ">"),
    )
    .map(([a, c]) => a.replace("@", `${c}@`)),
  goodAddress.map((a) => `${"a".repeat(65)}${a.slice(a.indexOf("@"))}`), // local part over 64
  goodAddress.map(
    (a) =>
      `${a.slice(0, a.indexOf("@"))}@${"d".repeat(63)}.${"e".repeat(63)}.${"f".repeat(63)}.${"g".repeat(63)}.example`,
  ), // over 254
  goodAddress.map((a) => a.replace("@", `@${"x".repeat(64)}.`)), // label over 63
  fc.constantFrom("", "@", "admin", "admin@", "@contoso.com"),
);

/** Values of every JSON type but the one given. */
function wrongType(own: "string" | "boolean" | "array" | "object"): fc.Arbitrary<JsonValue> {
  const all: Record<string, fc.Arbitrary<JsonValue>> = {
    string: fc.string({ maxLength: 20 }),
    boolean: fc.boolean(),
    number: fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    null: fc.constant(null),
    array: fc.array(fc.jsonValue() as fc.Arbitrary<JsonValue>, { maxLength: 3 }),
    object: fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue() as fc.Arbitrary<JsonValue>, {
      maxKeys: 3,
    }),
  };
  const others = Object.entries(all).filter(([type]) => type !== own);
  // A string "true" is not a boolean; a GUID in an array is not a GUID.
  if (own === "boolean") others.push(["quoted", fc.constantFrom("true", "false", "1", "yes")]);
  return fc.oneof(...others.map(([, arb]) => arb));
}

const badCustomerName = fc.oneof(
  fc.constant(""),
  fc.integer({ min: 64, max: 300 }).map((n) => "a".repeat(n)),
  fc
    .tuple(
      fc.stringMatching(/^[a-z0-9-]{0,20}$/),
      fc.constantFrom("A", "_", " ", ".", "/", "é", "\u0000", "<", "\n"),
    )
    .map(([s, c]) => s + c),
);
const badRegion = fc.oneof(
  fc.constantFrom("US", "Eu", "split ", " us", "", "eu-west", "global", "both", "usa"),
  fc.string({ maxLength: 8 }).filter((s) => !["us", "eu", "split"].includes(s)),
);
const badGroupName = fc.oneof(
  fc.constant(""),
  fc.integer({ min: 65, max: 200 }).map((n) => "G".repeat(n)),
  fc.constantFrom("Journal\u0000EU", "Journal\nEU", "\u0007", "Journal\u007fEU"),
);

// ---- mutations of a valid body -------------------------------------------------------------

interface Site {
  path: string[];
  type: "string" | "boolean" | "array" | "object";
  required: boolean;
  bad?: fc.Arbitrary<JsonValue>;
  /** Only on split bodies (under `groups`). */
  split?: boolean;
}

const GROUP_SITES = (side: "eu" | "us"): Site[] => [
  { path: ["groups", side], type: "object", required: true, split: true },
  { path: ["groups", side, "name"], type: "string", required: true, bad: badGroupName, split: true },
  {
    path: ["groups", side, "primarySmtpAddress"],
    type: "string",
    required: true,
    bad: badAddress,
    split: true,
  },
  { path: ["groups", side, "members"], type: "array", required: true, split: true },
];

const SITES: Site[] = [
  { path: ["tenantId"], type: "string", required: true, bad: badGuid },
  { path: ["customerName"], type: "string", required: true, bad: badCustomerName },
  { path: ["region"], type: "string", required: true, bad: badRegion },
  { path: ["outboundGateway"], type: "boolean", required: false },
  { path: ["ndrAddress"], type: "string", required: true, bad: badAddress },
  { path: ["groups"], type: "object", required: true, split: true },
  ...GROUP_SITES("eu"),
  ...GROUP_SITES("us"),
];

function setAt(body: Body, path: string[], value: JsonValue | undefined): Body {
  const copy = structuredClone(body);
  let node = copy as Record<string, JsonValue>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, JsonValue>;
  const last = path.at(-1)!;
  if (value === undefined) delete node[last];
  // An own property even for `__proto__`, as JSON.parse makes it.
  else Object.defineProperty(node, last, { value, enumerable: true, writable: true, configurable: true });
  return copy;
}

const splitBody = goodBody.filter((b) => b.region === "split");
const bodyFor = (site: Site) => (site.split ? splitBody : goodBody);
const where = (path: string[]) => path.join(".");

/** One field of a valid body broken. */
export const mutatedBody: fc.Arbitrary<{ what: string; body: Body }> = fc.oneof(
  ...SITES.map((site) =>
    fc
      .tuple(bodyFor(site), wrongType(site.type))
      .map(([b, v]) => ({ what: `${where(site.path)} of the wrong type`, body: setAt(b, site.path, v) })),
  ),
  ...SITES.filter((s) => s.required).map((site) =>
    bodyFor(site).map((b) => ({ what: `${where(site.path)} missing`, body: setAt(b, site.path, undefined) })),
  ),
  ...SITES.filter((s) => s.bad).map((site) =>
    fc.tuple(bodyFor(site), site.bad!).map(([b, v]) => ({
      what: `${where(site.path)} = ${JSON.stringify(v)}`,
      body: setAt(b, site.path, v),
    })),
  ),
  ...(["eu", "us"] as const).map((side) =>
    fc.tuple(splitBody, badAddress).map(([b, v]) => {
      const members = [...(((b.groups as Body)[side] as Body)["members"] as JsonValue[]), v];
      return {
        what: `groups.${side}.members has ${JSON.stringify(v)}`,
        body: setAt(b, ["groups", side, "members"], members),
      };
    }),
  ),
  // Unknown fields at each level, prototype-ish names included.
  ...[[], ["groups"], ["groups", "eu"]].map((path) =>
    fc
      .tuple(
        path.length ? splitBody : goodBody,
        fc.oneof(
          fc.constantFrom(
            "__proto__",
            "constructor",
            "prototype",
            "status",
            "partnerId",
            "TenantId",
            "tenantid",
            "id",
          ),
          fc.string({ minLength: 1, maxLength: 10 }),
        ),
        fc.jsonValue() as fc.Arbitrary<JsonValue>,
      )
      .filter(
        ([, key]) =>
          ![
            "tenantId",
            "customerName",
            "region",
            "outboundGateway",
            "ndrAddress",
            "groups",
            "eu",
            "us",
            "name",
            "primarySmtpAddress",
            "members",
          ].includes(key),
      )
      .map(([b, key, v]) => ({
        what: `unknown field ${where([...path, key])}`,
        body: setAt(b, [...path, key], v),
      })),
  ),
  goodBody
    .filter((b) => b.region !== "split")
    .map((b) => ({
      what: "groups without split",
      body: {
        ...b,
        groups: {
          eu: { name: "EU", primarySmtpAddress: "eu@x.example", members: [] },
          us: { name: "US", primarySmtpAddress: "us@x.example", members: [] },
        },
      },
    })),
  // Over Exchange's 10,000 members.
  splitBody.map((b) => ({
    what: "10,001 members",
    body: setAt(
      b,
      ["groups", "eu", "members"],
      Array.from({ length: 10_001 }, (_, i) => `m${i}@x.example`),
    ),
  })),
);

// ---- whole requests ------------------------------------------------------------------------

const json = "application/json";

/** Text that is not a JSON object. */
const notAnObject: fc.Arbitrary<{ what: string; text: string | Buffer }> = fc.oneof(
  goodBody
    .chain((b) => {
      const text = JSON.stringify(b);
      return fc.integer({ min: 0, max: text.length - 1 }).map((n) => text.slice(0, n));
    })
    .map((text) => ({ what: "truncated JSON", text })),
  fc
    .tuple(goodBody, fc.constantFrom("}", ",", " x", "{}", "]", "\u0000", "//"))
    .map(([b, tail]) => ({ what: `JSON + ${JSON.stringify(tail)}`, text: JSON.stringify(b) + tail })),
  goodBody.map((b) => ({ what: "single quotes", text: JSON.stringify(b).replaceAll('"', "'") })),
  goodBody.map((b) => ({ what: "trailing comma", text: `${JSON.stringify(b).slice(0, -1)},}` })),
  goodBody.map((b) => ({ what: "comment", text: `/* hi */${JSON.stringify(b)}` })),
  goodBody.map((b) => ({ what: "unquoted keys", text: JSON.stringify(b).replace(/"(\w+)":/g, "$1:") })),
  goodBody.map((b) => ({
    what: "NaN",
    text: JSON.stringify({ ...b, outboundGateway: "@" }).replace('"@"', "NaN"),
  })),
  goodBody.map((b) => ({ what: "array of the body", text: JSON.stringify([b]) })),
  goodBody.map((b) => ({ what: "body as a JSON string", text: JSON.stringify(JSON.stringify(b)) })),
  (fc.jsonValue() as fc.Arbitrary<JsonValue>)
    .filter((v) => v === null || typeof v !== "object" || Array.isArray(v))
    .map((v) => ({ what: "JSON that is not an object", text: JSON.stringify(v) })),
  fc.string({ unit: "binary", maxLength: 200 }).map((text) => ({ what: "text", text })),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => ({
    what: "bytes that are not UTF-8",
    text: Buffer.concat([Buffer.from([0xff, 0xfe]), bytes]),
  })),
  fc
    .constantFrom("", " ", "null", "{", "}", "[]", "{}")
    .map((text) => ({ what: `${JSON.stringify(text)}`, text })),
  fc
    .integer({ min: 1_000, max: 200_000 })
    .map((depth) => ({ what: `arrays nested ${depth} deep`, text: "[".repeat(depth) + "]".repeat(depth) })),
  fc.integer({ min: 1_000, max: 100_000 }).map((depth) => ({
    what: `objects nested ${depth} deep`,
    text: `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`,
  })),
);

const wrongContentType = fc.oneof(
  fc.constantFrom(
    undefined,
    "",
    "text/plain",
    "text/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/jsonx",
    "application/javascript",
    "json",
    "application/json; charset=utf-16",
    "application/octet-stream",
  ),
  fc.stringMatching(/^[a-z]{1,10}\/[a-z0-9+.-]{1,15}$/).filter((s) => !/^application\/json$/.test(s)),
);

/** Any bad request, with its expected status. */
export const badRequest: fc.Arbitrary<BadRequest> = fc.oneof(
  {
    weight: 12,
    arbitrary: mutatedBody.map(({ what, body }) => ({
      kind: "field" as const,
      what,
      contentType: json,
      body: JSON.stringify(body),
      expected: 400 as const,
    })),
  },
  {
    weight: 4,
    arbitrary: notAnObject.map(({ what, text }) => ({
      kind: "syntax" as const,
      what,
      contentType: json,
      body: text,
      expected: 400 as const,
    })),
  },
  {
    weight: 2,
    arbitrary: fc.tuple(goodBody, wrongContentType).map(([b, contentType]) => ({
      kind: "content-type" as const,
      what: `content type ${JSON.stringify(contentType)}`,
      contentType,
      body: JSON.stringify(b),
      expected: 415 as const,
    })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(goodBody, fc.integer({ min: 1, max: 2 * 1024 * 1024 }), fc.boolean())
      .map(([b, extra, inField]) => {
        const text = JSON.stringify(b);
        const pad = 1024 * 1024 + extra - text.length;
        return {
          kind: "size" as const,
          what: `${text.length + pad} bytes${inField ? " (a long customerName)" : ""}`,
          contentType: json,
          body: inField
            ? JSON.stringify({ ...b, customerName: "a".repeat(pad + String(b["customerName"]).length) })
            : text + " ".repeat(pad),
          expected: 413 as const,
        };
      }),
  },
);
