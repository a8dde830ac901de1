/**
 * The guard on the tenant item's size: a change that adds to what the tenant item remembers
 * (owned objects, adopted values, a correction) is refused when the item, as this process last
 * saw it, plus what the change writes would pass `maxItemBytes`. Status, step and error changes
 * always pass, so that a tenant can still fail, be retried and be offboarded.
 */
import { StateLimitError } from "../../domain/errors.ts";
import type { TenantChange } from "../../domain/store.ts";
import { itemBytes } from "./item-size.ts";
import type { TenantItem } from "./tenant-item.ts";

/** Tenant item sizes remembered per process (the guard's estimate), at most this many tenants. */
const KNOWN_SIZES_MAX = 10_000;

export class TenantSizeGuard {
  readonly #maxItemBytes: number;
  /** The size of each tenant item as last read or written by this process. */
  readonly #sizes = new Map<string, number>();

  constructor(maxItemBytes: number) {
    this.#maxItemBytes = maxItemBytes;
  }

  remember(item: TenantItem): void {
    if (this.#sizes.size >= KNOWN_SIZES_MAX) this.#sizes.clear();
    this.#sizes.set(item.tenantId, itemBytes(item as unknown as Record<string, unknown>));
  }

  check(tenantId: string, change: TenantChange, written: Record<string, unknown>): void {
    const grows =
      Object.entries(change.own ?? {}).some(([kind, names]) => kind !== "members" && names?.length) ||
      change.adopt !== undefined ||
      change.correct !== undefined;
    if (!grows) return;
    const known = this.#sizes.get(tenantId) ?? 0;
    const added = itemBytes(written);
    if (known + added > this.#maxItemBytes) {
      throw new StateLimitError(
        `The tenant's state record would grow to about ${Math.ceil((known + added) / 1024)} KB (limit ${Math.floor(this.#maxItemBytes / 1024)} KB); the change was not stored.`,
      );
    }
  }
}
