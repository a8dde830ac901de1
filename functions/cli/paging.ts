/** The paging options the list commands share (`--limit`, `--cursor`, `--all`) and the hint for the next page. */
import { Option } from "commander";
import { parseLimit } from "./args.ts";
import type { Page } from "./client.ts";

export interface ListOptions {
  limit: number;
  cursor?: string;
  all?: boolean;
}

/** `--limit <n>`, 1-100; the command sets its default. */
export function limitOption(what: string): Option {
  return new Option("--limit <n>", `${what} per page, 1-100`).argParser(parseLimit);
}

/** One page (from `--cursor`), or with `--all` every page merged (no `nextCursor`). */
export async function pageOrAll<T>(
  opts: ListOptions,
  fetchPage: (q: { limit: number; cursor?: string }) => Promise<Page<T>>,
): Promise<Page<T>> {
  if (!opts.all) return fetchPage({ limit: opts.limit, ...(opts.cursor && { cursor: opts.cursor }) });
  const items: T[] = [];
  let cursor = opts.cursor;
  do {
    const page = await fetchPage({ limit: opts.limit, ...(cursor && { cursor }) });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return { items };
}

export function moreHint(out: (s: string) => void, page: Page<unknown>, command: string): void {
  if (page.nextCursor) out(`\nMore: npx onboarding ${command} --cursor ${page.nextCursor}   (or --all)`);
}
