/**
 * Waits for the ops console's page (playwright-core) to reach a state, not for a fixed time: the
 * page re-renders by itself (every 2 s its lists, every minute the fleet), so a fixed sleep or one
 * render can measure an older state on a loaded machine.
 */
import type { Page } from "playwright-core";

/**
 * Waits until the page has run two rendering updates: a viewport change fired its `resize` event
 * (the chart resizes itself on it) and the layout that follows is the one measured.
 */
export async function renderedTwice(page: Page): Promise<void> {
  await page.evaluate(
    () => new Promise<void>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done()))),
  );
}

/**
 * Clicks Refresh of the fleet until `settled` holds on the page (each click waits `perClickMs`;
 * all of them `timeoutMs`). A click while a load is in flight is answered by another load after
 * it, but that older load renders first what it read before: one click and a wait for the next
 * render could measure it.
 */
export async function refreshFleetUntil<A>(
  page: Page,
  settled: (arg: A) => unknown,
  arg: A,
  { timeoutMs, perClickMs }: { timeoutMs: number; perClickMs: number },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await page.click("#refresh-fleet");
    try {
      await page.waitForFunction(settled as (arg: unknown) => unknown, arg, { timeout: perClickMs });
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}
