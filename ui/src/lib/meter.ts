/** The range the level meter shows, dBFS. */
export const METER_FLOOR_DBFS = -60;
/** At or below this the microphone delivers (almost) digital silence. */
export const NO_SIGNAL_DBFS = -100;

/** Where the amber and red zones begin, dBFS. */
export const AMBER_FROM_DBFS = -18;
export const RED_FROM_DBFS = -6;

/** Position on the meter, 0–1, for a level in dBFS. */
export function meterFraction(dbfs: number): number {
  if (!Number.isFinite(dbfs)) return 0;
  const f = (dbfs - METER_FLOOR_DBFS) / -METER_FLOOR_DBFS;
  return Math.min(1, Math.max(0, f));
}

export type MeterZone = "silent" | "green" | "amber" | "red";

export function meterZone(dbfs: number): MeterZone {
  if (!Number.isFinite(dbfs) || dbfs <= METER_FLOOR_DBFS) return "silent";
  if (dbfs >= RED_FROM_DBFS) return "red";
  if (dbfs >= AMBER_FROM_DBFS) return "amber";
  return "green";
}

/**
 * Heights (0–1) of three bars that rise with a linear voice level (0–1 RMS): the
 * speaking cue of a stage tile that does not rely on colour. `rest` is the height of a
 * quiet bar.
 */
export function levelBars(level: number, rest: number): number[] {
  const loud = Math.min(1, Math.sqrt(Math.max(0, level) / 0.3));
  return [0.6, 1, 0.75].map((k) => Math.max(rest, loud * k));
}
