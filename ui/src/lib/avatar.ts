// The letter avatar shown for a person without a picture.

/** The first letter (or character) of a name. */
export function initial(name: string): string {
  const first = [...name.trim()][0] ?? "?";
  return first.toUpperCase();
}

/** A calm colour per person, stable across reloads. */
export function hue(id: string): number {
  let h = 0;
  for (const c of id) h = (h * 31 + c.charCodeAt(0)) % 360;
  return h;
}
