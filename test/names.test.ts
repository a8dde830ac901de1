/**
 * The one rule for stored names (functions/domain/names.ts): examples through the API (partner
 * and group names), and properties (fast-check) of the rule itself.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { PartnerCreateBody } from "../functions/api/schemas.ts";
import { nameProblem, normalizeName } from "../functions/domain/names.ts";
import { newTenantId, onboardingBody, startTestApi, type TestApi } from "./support/api.ts";

let t: TestApi;

beforeAll(async () => {
  t = await startTestApi();
});

/** What the issue found accepted, and more of each kind. */
const REFUSED = [
  ["Hangul filler", "Contoso\u3164"],
  ["Hangul choseong filler", "\u115FContoso"],
  ["halfwidth Hangul filler", "Con\uFFA0toso"],
  ["Braille pattern blank", "Contoso\u2800MSP"],
  ["no-break space", "Contoso\u00A0MSP"],
  ["ideographic space", "Contoso\u3000MSP"],
  ["combining grapheme joiner", "Cont\u034Foso"],
  ["variation selector", "Contoso\uFE0F"],
  ["variation selector supplement", "Contoso\u{E0100}"],
  ["long stroke overlay", "C\u0336o\u0336n\u0336"],
  ["line separator", "Contoso\u2028MSP"],
  ["paragraph separator", "Contoso\u2029MSP"],
  ["lone high surrogate", "Contoso\uD800"],
  ["lone low surrogate", "\uDC00Contoso"],
  ["private use", "Contoso\uE000"],
  ["supplementary private use", "Contoso\u{F0000}"],
  ["noncharacter", "Contoso\uFDD0"],
  ["noncharacter FFFF", "Contoso\uFFFF"],
  ["unassigned", "Contoso\u0378"],
  ["soft hyphen", "Conto\u00ADso"],
  ["whitespace only", "   "],
  ["tabs only", "\t\t"],
] as const;

describe("names through the API", () => {
  it.each(REFUSED)("partner name with a %s: 400 naming /body/name", async (_what, name) => {
    const res = await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name } });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(["/body/name"]);
  });

  it.each(REFUSED)("group name with a %s: 400 naming the group's name", async (_what, name) => {
    const p = await t.newPartner();
    const groups = {
      eu: { name: "Journal EU", primarySmtpAddress: "journal-eu@contoso.example", members: [] },
      us: { name, primarySmtpAddress: "journal-us@contoso.example", members: [] },
    };
    const res = await t.call("POST", "/v1/tenants", {
      key: p.key,
      body: onboardingBody(newTenantId(), { region: "split", groups }),
    });
    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { pointer: string }) => e.pointer)).toEqual(["/body/groups/us/name"]);
  });

  it("stores a name in NFC and keeps every script, emoji and inner spaces", async () => {
    const decomposed = "Cafe\u0301 Ünïcode";
    const res = await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name: decomposed } });
    expect(res.status).toBe(201);
    expect(res.body.name).toBe("Café Ünïcode".normalize("NFC"));
    for (const name of ["株式会社 東京", "شركة كونتوسو", "कंपनी", "Ελληνική", "Contoso 🚀 MSP", "ไทย จำกัด"]) {
      expect((await t.call("POST", "/v1/partners", { key: t.opsKey, body: { name } })).status, name).toBe(
        201,
      );
    }
  });
});

/** Code points that must never appear in a stored name, by range. */
const forbiddenCodePoint = fc.oneof(
  fc.integer({ min: 0x00, max: 0x1f }), // controls
  fc.integer({ min: 0x7f, max: 0x9f }),
  fc.constantFrom(0x00a0, 0x00ad, 0x034f, 0x115f, 0x1680, 0x180e, 0x2800, 0x3000, 0x3164, 0xfeff, 0xffa0),
  fc.integer({ min: 0x2000, max: 0x200f }), // spaces, zero-width, marks
  fc.integer({ min: 0x2028, max: 0x202f }), // separators, bidi embeddings
  fc.integer({ min: 0x2060, max: 0x206f }), // invisible operators, bidi isolates
  fc.integer({ min: 0x0334, max: 0x0338 }), // overlays
  fc.integer({ min: 0xd800, max: 0xdfff }), // surrogates
  fc.integer({ min: 0xe000, max: 0xf8ff }), // private use
  fc.integer({ min: 0xf0000, max: 0x10fffd }),
  fc.integer({ min: 0xfdd0, max: 0xfdef }), // noncharacters
  fc.constantFrom(0xfffe, 0xffff, 0x1fffe, 0x10ffff),
  fc.integer({ min: 0xfe00, max: 0xfe0f }), // variation selectors
  fc.integer({ min: 0xe0100, max: 0xe01ef }),
  fc.integer({ min: 0xe0000, max: 0xe007f }), // tags
  fc.constantFrom(0x0378, 0x0379, 0x0380, 0x40000, 0x5abcd, 0xdffff), // unassigned (planes 4-13)
);

/** Visible letters and digits of several scripts, with single inner spaces. */
const visibleName = fc
  .array(fc.constantFrom(..."AbcZ09ÉéßøŁ株式会社東京ДжΩλשלוםشركةकंपनीไทย😀🚀".split(/(?:)/u)), {
    minLength: 1,
    maxLength: 20,
  })
  .chain((chars) =>
    fc
      .array(fc.boolean(), { minLength: chars.length, maxLength: chars.length })
      .map((spaces) => chars.map((c, i) => (spaces[i] && i > 0 ? ` ${c}` : c)).join("")),
  );

const accepted = (name: string) => nameProblem(normalizeName(name)) === undefined;

describe("the name rule's properties", () => {
  it("a visible name is accepted; with a forbidden code point anywhere it is refused", () => {
    fc.assert(
      fc.property(visibleName, forbiddenCodePoint, fc.nat(), (name, cp, at) => {
        expect(accepted(name)).toBe(true);
        const chars = [...name];
        const i = at % (chars.length + 1);
        const bad = [...chars.slice(0, i), String.fromCodePoint(cp), ...chars.slice(i)].join("");
        expect(accepted(bad)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it("whatever is accepted is well formed, in NFC, not blank, and stays the same when normalized again", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 30 }), (raw) => {
        const name = normalizeName(raw);
        if (nameProblem(name) !== undefined) return;
        expect(name.isWellFormed()).toBe(true);
        expect(name.normalize("NFC")).toBe(name);
        expect(normalizeName(name)).toBe(name);
        expect(name.trim()).not.toBe("");
        for (const c of name) {
          expect(/[\p{C}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\u2800]/u.test(c), c).toBe(false);
          expect(/\p{Zs}/u.test(c) && c !== " ", c).toBe(false);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it("the API's schema applies exactly this rule (after NFC)", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 30 }), (raw) => {
        const parsed = PartnerCreateBody.safeParse({ name: raw });
        expect(parsed.success).toBe(accepted(raw));
        if (parsed.success) expect(parsed.data.name).toBe(raw.normalize("NFC"));
      }),
      { numRuns: 1000 },
    );
  });
});
