/**
 * Comparisons that do not report false drift (Microsoft365DSC's lesson): addresses and
 * domains compare case-insensitively and without `smtp:`/`SMTP:` prefixes, lists compare as
 * sets.
 */
export function normalizeAddress(value: string): string {
  return value
    .trim()
    .replace(/^smtp:/i, "")
    .toLowerCase();
}

export function sameAddress(a: string | null | undefined, b: string | null | undefined): boolean {
  if (!a || !b) return !a && !b;
  return normalizeAddress(a) === normalizeAddress(b);
}

/** Set equality of two lists of addresses, domains or host names. */
export function sameSet(
  a: readonly string[] | null | undefined,
  b: readonly string[] | null | undefined,
): boolean {
  const left = new Set((a ?? []).map(normalizeAddress));
  const right = new Set((b ?? []).map(normalizeAddress));
  return left.size === right.size && [...left].every((v) => right.has(v));
}

/** Items of `wanted` that `present` lacks, compared as addresses; order of `wanted` kept. */
export function missingFrom(present: readonly string[], wanted: readonly string[]): string[] {
  const have = new Set(present.map(normalizeAddress));
  const out: string[] = [];
  for (const w of wanted) {
    const key = normalizeAddress(w);
    if (!have.has(key)) {
      have.add(key);
      out.push(w);
    }
  }
  return out;
}

export function sameText(a: string | null | undefined, b: string | null | undefined): boolean {
  return (a ?? "").trim().toLowerCase() === (b ?? "").trim().toLowerCase();
}
