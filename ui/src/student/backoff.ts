// When to try again after a connection drops.
//
// The nominal delay doubles from 0.5 s to a cap of 8 s; each delay is then shortened by
// up to a fifth at random, so a classroom of students whose Wi-Fi blipped together does
// not reconnect in lockstep. The random source is passed in, so tests are exact.

export const BACKOFF_FIRST_MS = 500;
export const BACKOFF_CAP_MS = 8000;
/** The largest share of a delay the jitter may take away. */
export const BACKOFF_JITTER = 0.2;

/** The delay before retry number `attempt` (0 for the first retry), given `random` in [0, 1). */
export function backoffDelay(attempt: number, random: number): number {
  const exponent = Math.min(Math.max(0, Math.floor(attempt)), 16);
  const nominal = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** exponent);
  const r = Math.min(Math.max(random, 0), 1);
  return Math.round(nominal * (1 - BACKOFF_JITTER * r));
}

/** Counts retries since the last success. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly random: () => number = Math.random) {}

  /** The delay before the next retry; each call backs off further. */
  next(): number {
    const delay = backoffDelay(this.attempt, this.random());
    this.attempt += 1;
    return delay;
  }

  /** After a success: the next failure starts again from the shortest delay. */
  reset(): void {
    this.attempt = 0;
  }

  /** Retries since the last success. */
  get attempts(): number {
    return this.attempt;
  }
}
