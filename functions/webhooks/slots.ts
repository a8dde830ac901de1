/**
 * The local dispatcher's requests in flight: at most `size` at a time across partners, and at
 * most `perKey` of one partner, so that one partner whose endpoint hangs (each attempt holds
 * its slot for the whole timeout, until the endpoint's breaker opens: circuit-breaker.ts)
 * leaves the other slots to everyone else. Waiters go in arrival order. A task waiting for its
 * partner's share holds no shared slot.
 */
export class Slots {
  readonly #all: Semaphore;
  readonly #perKey: number;
  readonly #byKey = new Map<string, Semaphore>();

  constructor(size: number, perKey = Math.max(1, Math.floor(size / 4))) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError("maxConcurrentAttempts must be >= 1");
    this.#all = new Semaphore(size);
    this.#perKey = Math.min(size, Math.max(1, perKey));
  }

  async run<T>(task: () => Promise<T>, key = ""): Promise<T> {
    let own = this.#byKey.get(key);
    if (!own) {
      own = new Semaphore(this.#perKey);
      this.#byKey.set(key, own);
    }
    try {
      return await own.run(() => this.#all.run(task));
    } finally {
      if (own.idle) this.#byKey.delete(key);
    }
  }
}

class Semaphore {
  readonly #size: number;
  #busy = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  get idle(): boolean {
    return this.#busy === 0;
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#busy >= this.#size) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#busy++;
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#busy--;
    }
  }
}
