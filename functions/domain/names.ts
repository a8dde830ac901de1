/**
 * The one rule for every name the service stores and shows (a partner's name, a group's name):
 * what a person reads must be what the name is. A name is taken in Unicode NFC and must not
 * hold
 * - control or format characters (`\p{Cc}`, `\p{Cf}`: bidi overrides and isolates, zero-width
 *   spaces and joiners, BOM), nor any other default-ignorable code point (Hangul fillers
 *   U+3164 and U+115F, the combining grapheme joiner U+034F, variation selectors, ...);
 * - blank-looking characters: the Braille pattern blank U+2800, spaces other than U+0020
 *   (no-break space U+00A0, ideographic space, ...), line and paragraph separators (U+2028,
 *   U+2029);
 * - overlay marks (canonical combining class 1: U+0334-U+0338 strokes and slashes, and the
 *   like), which strike a name through;
 * - unpaired surrogates, private-use, noncharacter or unassigned code points (unassigned as of
 *   the Unicode version of the running Node.js);
 * and it must not be blank (only spaces).
 */

/** Canonical combining class 1 (Overlay), Unicode 17: lone combining marks, each matched on its own. */
const OVERLAY_MARKS =
  // biome-ignore lint/suspicious/noMisleadingCharacterClass: lone combining marks, each matched on its own
  /[\u0334-\u0338\u1CD4\u1CE2-\u1CE8\u20D2\u20D3\u20D8-\u20DA\u20E5\u20E6\u20EA\u20EB\u{10A39}\u{16AF0}-\u{16AF4}\u{1BC9E}\u{1D167}-\u{1D169}]/u;

/** The characters a name may not hold, one class per reason (checked in this order). */
const RULES: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\p{Cs}/u, what: "unpaired surrogates" },
  {
    pattern: /[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/u,
    what: "control or invisible formatting characters (bidi, zero-width, fillers, variation selectors)",
  },
  { pattern: /[\p{Zl}\p{Zp}]/u, what: "line or paragraph separators" },
  { pattern: /(?! )[\p{Zs}\u2800]/u, what: "blank characters other than the space U+0020" },
  { pattern: OVERLAY_MARKS, what: "overlay marks (strike-through)" },
  {
    pattern: /[\p{Co}\p{Noncharacter_Code_Point}\p{Cn}]/u,
    what: "private-use, noncharacter or unassigned code points",
  },
];

/** The name as stored: its NFC form (a name typed on another system reads the same). */
export function normalizeName(name: string): string {
  return name.isWellFormed() ? name.normalize("NFC") : name;
}

/**
 * Why a name (already in NFC) is refused, as a sentence naming the first offending code point;
 * undefined when it is fine.
 *
 * @example
 * nameProblem("Contoso\u3164"); // "Must not contain control or invisible formatting characters (...): U+3164"
 * nameProblem("Société 株式会社"); // undefined
 */
export function nameProblem(name: string): string | undefined {
  for (const { pattern, what } of RULES) {
    const found = pattern.exec(name);
    if (found) return `Must not contain ${what}: ${codePoint(found[0])}`;
  }
  if (name.normalize("NFC") !== name) return "Must be in Unicode NFC";
  if (/^\p{White_Space}*$/u.test(name)) return "Must not be blank";
  return undefined;
}

function codePoint(char: string): string {
  return `U+${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}
