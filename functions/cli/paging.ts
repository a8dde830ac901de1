/** The paging the list commands share: `--limit`, `--cursor`, `--all`, and a page printed with the hint for the next. */
import { type Command, Option } from "commander";
import { parseLimit } from "./args.ts";
import type { Page } from "./client.ts";
import type { CommandContext } from "./context.ts";
import { type Column, table } from "./format.ts";

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

/**
 * A page as `--json` asks (the API's JSON) or for people: a table, or `empty` when there is
 * nothing, then how to ask for the next page.
 */
export function printPage<T>(
  ctx: CommandContext,
  cmd: Command,
  page: Page<T>,
  view: { empty: string; columns: readonly Column<T>[]; command: string },
): void {
  if (ctx.json(cmd)) {
    ctx.printJson(page);
    return;
  }
  ctx.out(page.items.length === 0 ? view.empty : table(page.items, view.columns));
  moreHint(ctx.out, page, view.command);
}
