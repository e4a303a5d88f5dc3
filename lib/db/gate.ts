/**
 * At most `capacity` holders at once; the others wait in line, in arrival order, and may leave
 * the line before their turn. A pool's gate admits no more queries than it has connections,
 * so the driver never has to queue one behind a busy connection.
 */
export interface Ticket {
  /** Resolves when this holder's turn has come. */
  readonly admitted: Promise<void>;
  /** Leaves the line: true when still waiting (now gone), false once admitted. */
  withdraw(): boolean;
  /** Frees the place of an admitted holder, admitting the next in line. */
  release(): void;
}

export class Gate {
  #holders = 0;
  readonly #line: Array<() => void> = [];

  constructor(readonly capacity: number) {}

  /** Holders admitted and not yet released. */
  get holders(): number {
    return this.#holders;
  }

  /** Waiting in line. */
  get waiting(): number {
    return this.#line.length;
  }

  enter(): Ticket {
    let state: "waiting" | "admitted" | "done" = "waiting";
    let admit: () => void = () => undefined;
    const admitted = new Promise<void>((resolve) => (admit = resolve));
    const grant = () => {
      state = "admitted";
      this.#holders++;
      admit();
    };
    if (this.#holders < this.capacity) grant();
    else this.#line.push(grant);
    return {
      admitted,
      withdraw: () => {
        if (state !== "waiting") return false;
        state = "done";
        this.#line.splice(this.#line.indexOf(grant), 1);
        return true;
      },
      release: () => {
        if (state !== "admitted") return;
        state = "done";
        this.#holders--;
        this.#line.shift()?.();
      },
    };
  }
}
