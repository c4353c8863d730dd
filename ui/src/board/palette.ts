// The toolbar's colours and widths. Their names and labels are in the app's catalogs
// (`ui/src/locales/*.json`, under `board`).

/** The eight swatches, in toolbar order; names key `board.colours`. */
export const SWATCHES = [
  { name: "black", color: "#1f2937" },
  { name: "red", color: "#dc2626" },
  { name: "orange", color: "#ea580c" },
  { name: "yellow", color: "#facc15" },
  { name: "green", color: "#16a34a" },
  { name: "blue", color: "#2563eb" },
  { name: "purple", color: "#9333ea" },
  { name: "white", color: "#ffffff" },
] as const;

/** Line widths in page units. */
export const WIDTHS = [2, 4, 8, 16] as const;
