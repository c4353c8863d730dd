import { describe, expect, it } from "vitest";
import { levelBars } from "./meter";

describe("levelBars", () => {
  it("rests at the given height in silence and rises with the voice", () => {
    expect(levelBars(0, 0.2)).toEqual([0.2, 0.2, 0.2]);
    const speech = levelBars(0.05, 0.2);
    expect(speech[1]).toBeGreaterThan(0.2);
    expect(speech[1]).toBeGreaterThan(speech[0]);
  });

  it("never passes full height, even for a clipping voice or a bad reading", () => {
    expect(levelBars(5, 0.25)).toEqual([0.6, 1, 0.75]);
    expect(levelBars(-1, 0.25)).toEqual([0.25, 0.25, 0.25]);
  });
});
