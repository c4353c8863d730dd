import { describe, expect, it } from "vitest";
import { Backoff, BACKOFF_CAP_MS, backoffDelay } from "./backoff";

describe("backoffDelay", () => {
  it("doubles from 0.5 s up to the 8 s cap without jitter", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 30].map((n) => backoffDelay(n, 0))).toEqual([
      500, 1000, 2000, 4000, 8000, 8000, 8000, 8000,
    ]);
  });

  it("takes at most a fifth away at random and never exceeds the cap", () => {
    expect(backoffDelay(0, 0.999999)).toBe(400);
    expect(backoffDelay(2, 0.5)).toBe(1800);
    expect(backoffDelay(10, 1)).toBe(6400);
    for (let n = 0; n < 20; n++) {
      for (const r of [0, 0.25, 0.5, 0.75, 0.99]) {
        const d = backoffDelay(n, r);
        expect(d).toBeGreaterThanOrEqual(400);
        expect(d).toBeLessThanOrEqual(BACKOFF_CAP_MS);
      }
    }
  });

  it("treats odd inputs as the nearest sensible ones", () => {
    expect(backoffDelay(-3, 0)).toBe(500);
    expect(backoffDelay(1e9, 0)).toBe(8000);
    expect(backoffDelay(0, 5)).toBe(400);
  });
});

describe("Backoff", () => {
  it("walks the schedule and starts over after a success", () => {
    const b = new Backoff(() => 0);
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([
      500, 1000, 2000, 4000, 8000, 8000,
    ]);
    expect(b.attempts).toBe(6);
    b.reset();
    expect(b.next()).toBe(500);
  });

  it("spreads a class of reconnecting students apart", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const firsts = Array.from({ length: 30 }, () => new Backoff(random).next());
    expect(new Set(firsts).size).toBeGreaterThan(20);
  });
});
