/**
 * The local runtime's parts: each started by its own module, which returns a handle with
 * `stop`; the runtime stops them in reverse order of their start.
 */

/** What every started part returns. */
export interface Part {
  stop(): Promise<void>;
}

/** The parts started so far, stopped last first; a part that fails to stop does not keep the others running. */
export class Parts {
  readonly #started: Part[] = [];

  /** Remembers a started part; returns it. */
  add<T extends Part>(part: T): T {
    this.#started.push(part);
    return part;
  }

  async stopAll(): Promise<void> {
    for (let part = this.#started.pop(); part; part = this.#started.pop())
      await part.stop().catch(() => undefined);
  }
}
