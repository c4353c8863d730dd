// The whiteboard's wire JSON, as `crates/proto/src/board.rs` and `crates/board` serialize
// it. Field names and optional fields follow the serde attributes there; `normalize*`
// fills in the fields serde would default, so a board parsed here compares equal to one
// built from ops.

/** Width of the logical page, in page units. */
export const PAGE_WIDTH = 1600;
/** Height of the logical page, in page units. */
export const PAGE_HEIGHT = 900;
/** Version of the serialized board document. */
export const DOC_VERSION = 1;
/** Longest page, shape or asset id, in bytes. */
export const MAX_BOARD_ID_LEN = 128;
/** Longest peer id, in bytes. */
export const MAX_PEER_ID_LEN = 64;

export type PeerId = string;
/** `"<author>:<client_seq>"` of the `add_page` op that made the page. */
export type PageId = string;
/** `"<author>:<client_seq>"`, or `"<author>:<client_seq>/<k>"` for a partial-erase piece. */
export type ShapeId = string;
export type AssetRef = string;
/** `#rrggbb`. */
export type Color = string;

export interface Pos {
  x: number;
  y: number;
}

/** Page units plus pressure 0–1; serde defaults a missing pressure to 1. */
export interface Point {
  x: number;
  y: number;
  pressure: number;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Style {
  color: Color;
  width: number;
  opacity: number;
  highlighter: boolean;
  fill?: Color;
}

/** Scale and rotate about the centre of the shape's own bounding box, then translate. */
export interface Transform {
  dx: number;
  dy: number;
  scale: number;
  /** Radians, clockwise on screen. */
  rotation: number;
}

export const IDENTITY: Readonly<Transform> = Object.freeze({ dx: 0, dy: 0, scale: 1, rotation: 0 });

export type ShapeKind =
  | { type: "stroke"; points: Point[]; smooth: boolean; finished: boolean }
  | { type: "line"; from: Pos; to: Pos }
  | { type: "arrow"; from: Pos; to: Pos }
  | { type: "rectangle"; rect: Rect }
  | { type: "ellipse"; rect: Rect }
  | { type: "text"; at: Pos; text: string; size: number }
  | { type: "image"; asset: AssetRef; rect: Rect };

export type StrokeKind = Extract<ShapeKind, { type: "stroke" }>;

export interface Shape {
  id: ShapeId;
  author: PeerId;
  style: Style;
  /** Omitted on the wire when it is the identity. */
  transform?: Transform;
  kind: ShapeKind;
}

export type Background =
  | { type: "document"; doc: AssetRef; page: number }
  | { type: "image"; asset: AssetRef };

export interface Page {
  id: PageId;
  background?: Background;
  shapes: Shape[];
}

export interface PointRange {
  start: number;
  end: number;
}

export type BoardAction =
  | { type: "add_page"; index?: number; background?: Background }
  | { type: "remove_page"; page: PageId }
  | { type: "reorder_page"; page: PageId; index: number }
  | { type: "set_background"; page: PageId; background: Background | null }
  | { type: "set_current_page"; page: PageId }
  | { type: "begin_stroke"; page: PageId; style: Style; smooth: boolean; points: Point[] }
  | { type: "append_stroke"; page: PageId; stroke: ShapeId; points: Point[] }
  | { type: "end_stroke"; page: PageId; stroke: ShapeId }
  | { type: "add_shape"; page: PageId; style: Style; shape: ShapeKind }
  | { type: "transform_shape"; page: PageId; shape: ShapeId; transform: Transform }
  | { type: "erase_shapes"; page: PageId; shapes: ShapeId[] }
  | { type: "partial_erase"; page: PageId; stroke: ShapeId; ranges: PointRange[] }
  | { type: "clear_page"; page: PageId }
  | { type: "undo" }
  | { type: "redo" };

export interface BoardOp {
  author: PeerId;
  client_seq: number;
  /** Absent until the relay has ordered the op. */
  server_seq?: number;
  action: BoardAction;
}

export type BoardEphemeral =
  | { type: "laser"; page: PageId; trail: Pos[] }
  | { type: "cursor"; page: PageId; at: Pos | null };

/** One recorded history change (`crates/board/src/history.rs`, `Change`). */
export type Change =
  | { type: "shape_added"; page: PageId; id: ShapeId }
  | { type: "shape_removed"; page: PageId; index: number; shape: Shape }
  | { type: "transform_set"; page: PageId; shape: ShapeId; before: Transform }
  | { type: "page_added"; page: PageId; current_before?: PageId }
  | { type: "page_removed"; index: number; page: Page; was_current: boolean }
  | { type: "page_moved"; page: PageId; from: number }
  | { type: "background_set"; page: PageId; before: Background | null };

export type Step = Change[];

export interface HistoryJson {
  undo: Step[];
  redo: Step[];
}

/** `Board` as serde writes it. */
export interface BoardJson {
  pages: Page[];
  current?: PageId;
  clocks: Record<PeerId, number>;
  history: Record<PeerId, HistoryJson>;
}

/** `Snapshot`: the board as of server seq `seq`. */
export interface SnapshotJson {
  version: number;
  seq: number;
  board: BoardJson;
}

/** The stable error codes of `BoardError::code` that applying an op can produce. */
export type BoardErrorCode =
  | "page_not_found"
  | "shape_not_found"
  | "not_a_stroke"
  | "stroke_finished"
  | "not_your_stroke"
  | "stale_op"
  | "id_taken"
  | "too_many_pages"
  | "too_many_shapes"
  | "batch_too_large"
  | "stroke_too_long"
  | "text_too_long"
  | "empty"
  | "bad_number"
  | "out_of_bounds"
  | "bad_range"
  | "nothing_to_undo"
  | "nothing_to_redo"
  | "forbidden"
  | "malformed"
  | "unsupported_version"
  | "seq_gap"
  | "desync";

/** A refusal; `code` is what callers match on. */
export class BoardError extends Error {
  constructor(
    readonly code: BoardErrorCode,
    detail?: string,
  ) {
    super(detail ? `${code}: ${detail}` : code);
    this.name = "BoardError";
  }
}

const ID_RE = /^[A-Za-z0-9\-_.:/]+$/;
const PEER_RE = /^[A-Za-z0-9\-_.]+$/;
const COLOR_RE = /^#[0-9a-fA-F]{6}$/;

/** A valid page, shape or asset id (the ids are ASCII, so length in bytes = length). */
export function isBoardId(s: unknown): s is string {
  return typeof s === "string" && s.length <= MAX_BOARD_ID_LEN && ID_RE.test(s);
}

export function isPeerId(s: unknown): s is string {
  return typeof s === "string" && s.length <= MAX_PEER_ID_LEN && PEER_RE.test(s);
}

export function isColor(s: unknown): s is string {
  return typeof s === "string" && COLOR_RE.test(s);
}

/** Id of the page or shape an op creates. */
export function opShapeId(author: PeerId, clientSeq: number): string {
  return `${author}:${clientSeq}`;
}

/** Id of the k-th piece a partial erase by op (author, clientSeq) leaves. */
export function pieceId(author: PeerId, clientSeq: number, k: number): ShapeId {
  return `${author}:${clientSeq}/${k}`;
}

export function isIdentity(t: Transform | undefined): boolean {
  return !t || (t.dx === 0 && t.dy === 0 && t.scale === 1 && t.rotation === 0);
}

/**
 * Rust stores coordinates as f32 and writes them back in their shortest decimal form. A
 * number with at most 6 significant digits survives that trip unchanged, so locally made
 * values are rounded like this before they go into an op: otherwise the optimistic view
 * would hold 0.30000000000000004 where the relay's copy holds 0.3, and never converge.
 */
export function roundTo(v: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(v * f) / f;
}

// ---- normalization of received JSON (serde defaults) ----

export function normalizePoint(p: Point): Point {
  return { x: p.x, y: p.y, pressure: p.pressure ?? 1 };
}

export function normalizeStyle(s: Style): Style {
  const out: Style = {
    color: s.color,
    width: s.width,
    opacity: s.opacity ?? 1,
    highlighter: s.highlighter ?? false,
  };
  if (s.fill != null) out.fill = s.fill;
  return out;
}

export function normalizeKind(k: ShapeKind): ShapeKind {
  if (k.type === "stroke") {
    return {
      type: "stroke",
      points: (k.points ?? []).map(normalizePoint),
      smooth: k.smooth,
      finished: k.finished ?? false,
    };
  }
  return k;
}

export function normalizeShape(s: Shape): Shape {
  const out: Shape = { id: s.id, author: s.author, style: normalizeStyle(s.style), kind: normalizeKind(s.kind) };
  if (!isIdentity(s.transform)) out.transform = { ...(s.transform as Transform) };
  return out;
}

export function normalizeBackground(b: Background | null | undefined): Background | undefined {
  return b == null ? undefined : b;
}

export function normalizePage(p: Page): Page {
  const out: Page = { id: p.id, shapes: (p.shapes ?? []).map(normalizeShape) };
  const bg = normalizeBackground(p.background);
  if (bg) out.background = bg;
  return out;
}

export function normalizeAction(a: BoardAction): BoardAction {
  switch (a.type) {
    case "begin_stroke":
      return { ...a, style: normalizeStyle(a.style), points: a.points.map(normalizePoint) };
    case "append_stroke":
      return { ...a, points: a.points.map(normalizePoint) };
    case "add_shape":
      return { ...a, style: normalizeStyle(a.style), shape: normalizeKind(a.shape) };
    case "set_background":
      return { ...a, background: a.background ?? null };
    default:
      return a;
  }
}

/** An op as received from the wire, with serde's defaults filled in. */
export function normalizeOp(op: BoardOp): BoardOp {
  const out: BoardOp = { author: op.author, client_seq: op.client_seq, action: normalizeAction(op.action) };
  if (op.server_seq != null) out.server_seq = op.server_seq;
  return out;
}
