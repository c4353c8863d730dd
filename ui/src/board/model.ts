// The whiteboard document and its per-author history: a line-by-line port of
// `crates/board/src/board.rs` and `history.rs`. The relay's Rust copy is authoritative;
// this copy must accept and refuse the same ops and land on the same state, history
// included, or a client would diverge from the relay.
//
// Copy-on-write: `clone()` is O(pages + authors), not O(points), because a client rebuilds
// its view from the confirmed board whenever someone else's op lands while it has ops in
// flight, and a page may hold 5,000 strokes. Each board remembers which objects it made
// itself (`owned`) and copies any other object before changing it. A finished shape is
// never changed in place at all, so the renderer can trust object identity: a shape
// object it has already drawn still looks the same.

import {
  BoardError,
  DOC_VERSION,
  IDENTITY,
  isBoardId,
  isIdentity,
  isPeerId,
  normalizePage,
  normalizeShape,
  opShapeId,
  pieceId,
  type Background,
  type BoardAction,
  type BoardJson,
  type BoardOp,
  type Change,
  type HistoryJson,
  type Page,
  type PageId,
  type PeerId,
  type PointRange,
  type Shape,
  type ShapeId,
  type ShapeKind,
  type SnapshotJson,
  type Step,
  type Transform,
} from "./types";
import {
  MAX_PAGES,
  MAX_POINTS_PER_STROKE,
  MAX_SHAPES_PER_PAGE,
  MAX_UNDO_DEPTH,
  checkAction,
  checkShape,
  checkTransform,
} from "./limits";

/** What an accepted op changed, so a renderer redraws only that. */
export interface Applied {
  /** `"author:client_seq"` of the op. */
  op: string;
  /** Pages whose background or shapes changed. */
  pages: PageId[];
  /** Pages were added, removed or reordered. */
  pageList: boolean;
  /** The page everyone is shown changed. */
  currentPage: boolean;
}

interface History {
  undo: Step[];
  redo: Step[];
}

type Record = { kind: "step"; step: Step } | { kind: "edit" } | { kind: "nothing" };

const EDIT: Record = { kind: "edit" };
const NOTHING: Record = { kind: "nothing" };

const err = (code: ConstructorParameters<typeof BoardError>[0], detail?: string): never => {
  throw new BoardError(code, detail);
};

/** Deep equality of plain JSON data, treating an `undefined` field as absent. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    if (a.length !== bb.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], bb[i])) return false;
    return true;
  }
  const ao = a as { [k: string]: unknown };
  const bo = b as { [k: string]: unknown };
  const ak = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bk = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (ak.length !== bk.length) return false;
  for (const k of ak) if (!jsonEqual(ao[k], bo[k])) return false;
  return true;
}

const transformOf = (s: Shape): Transform => s.transform ?? IDENTITY;

function sameTransform(a: Transform, b: Transform): boolean {
  return a.dx === b.dx && a.dy === b.dy && a.scale === b.scale && a.rotation === b.rotation;
}

function withTransform(s: Shape, t: Transform): Shape {
  const out: Shape = { id: s.id, author: s.author, style: s.style, kind: s.kind };
  if (!isIdentity(t)) out.transform = t;
  return out;
}

function pageIndex(pages: readonly Page[], id: PageId): number {
  for (let i = 0; i < pages.length; i++) if (pages[i].id === id) return i;
  return -1;
}

/** Looked up from the end: the shapes being drawn and changed are mostly the newest. */
export function shapeIndex(page: Page, id: ShapeId): number {
  const s = page.shapes;
  for (let i = s.length - 1; i >= 0; i--) if (s[i].id === id) return i;
  return -1;
}

function wouldRevert(pages: readonly Page[], c: Change): boolean {
  const page = (id: PageId) => {
    const i = pageIndex(pages, id);
    return i < 0 ? undefined : pages[i];
  };
  switch (c.type) {
    case "shape_added": {
      const p = page(c.page);
      return !!p && shapeIndex(p, c.id) >= 0;
    }
    case "shape_removed": {
      const p = page(c.page);
      return !!p && p.shapes.length < MAX_SHAPES_PER_PAGE && shapeIndex(p, c.shape.id) < 0;
    }
    case "transform_set": {
      const p = page(c.page);
      if (!p) return false;
      const i = shapeIndex(p, c.shape);
      return i >= 0 && !sameTransform(transformOf(p.shapes[i]), c.before);
    }
    case "page_added":
      return !!page(c.page);
    case "page_removed":
      return pages.length < MAX_PAGES && !page(c.page.id);
    case "page_moved": {
      const i = pageIndex(pages, c.page);
      return i >= 0 && i !== Math.min(c.from, pages.length - 1);
    }
    case "background_set": {
      const p = page(c.page);
      return !!p && !jsonEqual(p.background ?? null, c.before);
    }
  }
}

function stepWouldRevert(pages: readonly Page[], step: Step): boolean {
  return step.some((c) => wouldRevert(pages, c));
}

let boardIds = 0;

/**
 * The whiteboard document: pages of shapes, the page everyone is shown, and what each
 * author could undo or redo. It changes only through `apply`, which applies an op whole
 * or throws a `BoardError` and changes nothing.
 */
export class Board {
  private pagesArr: Page[] = [];
  private current: PageId | undefined;
  private clocks = new Map<PeerId, number>();
  private history = new Map<PeerId, History>();
  private owned = new WeakSet<object>();
  /** Rises with every change; a renderer compares it to skip work. */
  revision = 0;
  /** Unique per instance, so a renderer can tell a rebuilt board from the old one. */
  readonly instance = ++boardIds;

  /** The pages, in order. Do not mutate. */
  pages(): readonly Page[] {
    return this.pagesArr;
  }

  page(id: PageId): Page | undefined {
    const i = pageIndex(this.pagesArr, id);
    return i < 0 ? undefined : this.pagesArr[i];
  }

  /** The page everyone is shown; undefined only when there are no pages. */
  currentPage(): PageId | undefined {
    return this.current;
  }

  /** The author's last accepted client_seq (0 when none). */
  lastClientSeq(author: PeerId): number {
    return this.clocks.get(author) ?? 0;
  }

  canUndo(author: PeerId): boolean {
    const h = this.history.get(author);
    return !!h && h.undo.some((s) => stepWouldRevert(this.pagesArr, s));
  }

  canRedo(author: PeerId): boolean {
    const h = this.history.get(author);
    return !!h && h.redo.some((s) => stepWouldRevert(this.pagesArr, s));
  }

  /** Pages and current page equal (history and clocks aside). */
  sameContent(other: Board): boolean {
    return this.current === other.current && jsonEqual(this.pagesArr, other.pagesArr);
  }

  /** A copy sharing every unchanged object with this board; both copy before writing. */
  clone(): Board {
    const b = new Board();
    b.pagesArr = this.pagesArr.slice();
    b.current = this.current;
    b.clocks = new Map(this.clocks);
    b.history = new Map(this.history);
    b.revision = this.revision;
    b.owned.add(b.pagesArr);
    // From now on objects are shared: this board must copy them too before writing.
    this.owned = new WeakSet();
    this.pagesArr = this.pagesArr.slice();
    this.owned.add(this.pagesArr);
    return b;
  }

  /** Checks `op` against the limits and the board, then applies it; throws on refusal. */
  apply(op: BoardOp): Applied {
    if (!isPeerId(op.author) || !Number.isSafeInteger(op.client_seq) || op.client_seq < 0) {
      err("malformed", "op id");
    }
    const last = this.lastClientSeq(op.author);
    if (op.client_seq <= last) err("stale_op", `${op.client_seq} <= ${last}`);
    checkAction(op.action);
    const applied: Applied = {
      op: opShapeId(op.author, op.client_seq),
      pages: [],
      pageList: false,
      currentPage: false,
    };
    let record: Record;
    if (op.action.type === "undo" || op.action.type === "redo") {
      this.undoRedo(op.author, op.action.type === "undo", applied);
      record = NOTHING;
    } else {
      record = this.edit(op.author, op.client_seq, op.action, applied);
    }
    this.clocks.set(op.author, op.client_seq);
    if (record.kind === "step") {
      const h = this.historyMut(op.author, true)!;
      h.redo.length = 0;
      pushUndo(h, record.step);
    } else if (record.kind === "edit") {
      const h = this.historyMut(op.author, false);
      if (h) h.redo.length = 0;
    }
    this.revision++;
    return applied;
  }

  // ---- copy-on-write access ----

  private ownPages(): Page[] {
    if (!this.owned.has(this.pagesArr)) {
      this.pagesArr = this.pagesArr.slice();
      this.owned.add(this.pagesArr);
    }
    return this.pagesArr;
  }

  private pageMutAt(index: number): Page {
    const pages = this.ownPages();
    let p = pages[index];
    if (!this.owned.has(p)) {
      p = { ...p, shapes: p.shapes.slice() };
      pages[index] = p;
      this.owned.add(p);
    }
    return p;
  }

  private pageMut(id: PageId): Page {
    const i = pageIndex(this.pagesArr, id);
    if (i < 0) err("page_not_found");
    return this.pageMutAt(i);
  }

  private historyMut(author: PeerId, create: boolean): History | undefined {
    let h = this.history.get(author);
    if (!h) {
      if (!create) return undefined;
      h = { undo: [], redo: [] };
    } else if (this.owned.has(h)) {
      return h;
    } else {
      h = { undo: h.undo.slice(), redo: h.redo.slice() };
    }
    this.owned.add(h);
    this.history.set(author, h);
    return h;
  }

  // ---- ops ----

  private edit(author: PeerId, seq: number, action: BoardAction, applied: Applied): Record {
    if ("page" in action) applied.pages.push(action.page);
    const id = opShapeId(author, seq);
    switch (action.type) {
      case "add_page": {
        applied.pageList = true;
        if (this.pagesArr.length >= MAX_PAGES) err("too_many_pages");
        if (this.page(id)) err("id_taken");
        const len = this.pagesArr.length;
        const at = action.index == null ? len : Math.min(action.index, len);
        const page: Page = { id, shapes: [] };
        if (action.background) page.background = action.background;
        this.owned.add(page);
        this.ownPages().splice(at, 0, page);
        if (this.current === undefined) {
          this.current = id;
          applied.currentPage = true;
        }
        applied.pages.push(id);
        return { kind: "step", step: [{ type: "page_added", page: id }] };
      }
      case "remove_page": {
        applied.pageList = true;
        const index = pageIndex(this.pagesArr, action.page);
        if (index < 0) err("page_not_found");
        const [removed] = this.ownPages().splice(index, 1);
        const wasCurrent = this.current === action.page;
        this.current = pageRemoved(this.pagesArr, this.current, action.page, index);
        applied.currentPage = wasCurrent;
        return { kind: "step", step: [{ type: "page_removed", index, page: removed, was_current: wasCurrent }] };
      }
      case "reorder_page": {
        applied.pageList = true;
        const from = pageIndex(this.pagesArr, action.page);
        if (from < 0) err("page_not_found");
        const to = Math.min(action.index, this.pagesArr.length - 1);
        if (from === to) return EDIT;
        const pages = this.ownPages();
        const [moved] = pages.splice(from, 1);
        pages.splice(to, 0, moved);
        return { kind: "step", step: [{ type: "page_moved", page: action.page, from }] };
      }
      case "set_background": {
        const i = pageIndex(this.pagesArr, action.page);
        if (i < 0) err("page_not_found");
        const want = action.background ?? null;
        const before = this.pagesArr[i].background ?? null;
        if (jsonEqual(before, want)) return EDIT;
        setBackground(this.pageMutAt(i), want);
        return { kind: "step", step: [{ type: "background_set", page: action.page, before }] };
      }
      case "set_current_page": {
        if (pageIndex(this.pagesArr, action.page) < 0) err("page_not_found");
        applied.currentPage = this.current !== action.page;
        this.current = action.page;
        applied.pages.length = 0;
        return NOTHING;
      }
      case "begin_stroke": {
        const shape: Shape = {
          id,
          author,
          style: action.style,
          kind: { type: "stroke", points: action.points.slice(), smooth: action.smooth, finished: false },
        };
        this.owned.add(shape);
        this.addShape(action.page, shape);
        // Pen-up makes the stroke one undo step; until then it is only an edit.
        return EDIT;
      }
      case "append_stroke": {
        const { page, index } = this.ownOpenStroke(action.page, action.stroke, author);
        let s = page.shapes[index];
        const kind = s.kind as Extract<ShapeKind, { type: "stroke" }>;
        if (kind.points.length + action.points.length > MAX_POINTS_PER_STROKE) err("stroke_too_long");
        if (!this.owned.has(s)) {
          // Open strokes are the only shapes changed in place, and only once owned.
          s = { ...s, kind: { ...kind, points: kind.points.slice() } };
          this.owned.add(s);
          page.shapes[index] = s;
        }
        const pts = (s.kind as typeof kind).points;
        for (const p of action.points) pts.push(p);
        return EDIT;
      }
      case "end_stroke": {
        const { page, index } = this.ownOpenStroke(action.page, action.stroke, author);
        const s = page.shapes[index];
        page.shapes[index] = { ...s, kind: { ...(s.kind as Extract<ShapeKind, { type: "stroke" }>), finished: true } };
        return { kind: "step", step: [{ type: "shape_added", page: action.page, id: action.stroke }] };
      }
      case "add_shape": {
        let kind = action.shape;
        if (kind.type === "stroke") {
          if (kind.points.length > MAX_POINTS_PER_STROKE) err("stroke_too_long");
          kind = { ...kind, points: kind.points.slice(), finished: true };
        }
        this.addShape(action.page, { id, author, style: action.style, kind });
        return { kind: "step", step: [{ type: "shape_added", page: action.page, id }] };
      }
      case "transform_shape": {
        const pi = pageIndex(this.pagesArr, action.page);
        if (pi < 0) err("page_not_found");
        const i = shapeIndex(this.pagesArr[pi], action.shape);
        if (i < 0) err("shape_not_found");
        const before = transformOf(this.pagesArr[pi].shapes[i]);
        if (sameTransform(before, action.transform)) return EDIT;
        const p = this.pageMutAt(pi);
        p.shapes[i] = withTransform(p.shapes[i], { ...action.transform });
        return { kind: "step", step: [{ type: "transform_set", page: action.page, shape: action.shape, before }] };
      }
      case "erase_shapes": {
        const pi = pageIndex(this.pagesArr, action.page);
        if (pi < 0) err("page_not_found");
        if (!action.shapes.some((s) => shapeIndex(this.pagesArr[pi], s) >= 0)) err("shape_not_found");
        const p = this.pageMutAt(pi);
        const step: Step = [];
        for (const sid of action.shapes) {
          const index = shapeIndex(p, sid);
          if (index < 0) continue;
          const [shape] = p.shapes.splice(index, 1);
          step.push({ type: "shape_removed", page: action.page, index, shape });
        }
        return { kind: "step", step };
      }
      case "partial_erase":
        return this.partialErase(author, seq, action.page, action.stroke, action.ranges);
      case "clear_page": {
        const pi = pageIndex(this.pagesArr, action.page);
        if (pi < 0) err("page_not_found");
        const p = this.pageMutAt(pi);
        // Removed last to first, so that reverting the changes in reverse order puts each
        // shape back at the index it had.
        const step: Step = [];
        while (p.shapes.length > 0) {
          const shape = p.shapes.pop()!;
          step.push({ type: "shape_removed", page: action.page, index: p.shapes.length, shape });
        }
        return { kind: "step", step };
      }
      default:
        return err("forbidden");
    }
  }

  private addShape(pageId: PageId, shape: Shape): void {
    const pi = pageIndex(this.pagesArr, pageId);
    if (pi < 0) err("page_not_found");
    const before = this.pagesArr[pi];
    if (before.shapes.length >= MAX_SHAPES_PER_PAGE) err("too_many_shapes");
    if (shapeIndex(before, shape.id) >= 0) err("id_taken");
    this.pageMutAt(pi).shapes.push(shape);
  }

  /** The author's own stroke that is still being drawn. */
  private ownOpenStroke(pageId: PageId, stroke: ShapeId, author: PeerId): { page: Page; index: number } {
    const pi = pageIndex(this.pagesArr, pageId);
    if (pi < 0) err("page_not_found");
    const i = shapeIndex(this.pagesArr[pi], stroke);
    if (i < 0) err("shape_not_found");
    const s = this.pagesArr[pi].shapes[i];
    if (s.kind.type !== "stroke") err("not_a_stroke");
    if ((s.kind as { finished: boolean }).finished) err("stroke_finished");
    if (s.author !== author) err("not_your_stroke");
    return { page: this.pageMutAt(pi), index: i };
  }

  private partialErase(author: PeerId, seq: number, pageId: PageId, stroke: ShapeId, ranges: PointRange[]): Record {
    const pi = pageIndex(this.pagesArr, pageId);
    if (pi < 0) err("page_not_found");
    const before = this.pagesArr[pi];
    const index = shapeIndex(before, stroke);
    if (index < 0) err("shape_not_found");
    const original = before.shapes[index];
    if (original.kind.type !== "stroke") return err("not_a_stroke");
    const { points, smooth } = original.kind;
    const len = points.length;
    if (ranges[ranges.length - 1].end > len) err("bad_range");
    const runs: [number, number][] = [];
    let from = 0;
    for (const r of ranges) {
      runs.push([from, r.start]);
      from = r.end;
    }
    runs.push([from, len]);
    const kept = runs.filter(([a, b]) => a < b);
    if (before.shapes.length - 1 + kept.length > MAX_SHAPES_PER_PAGE) err("too_many_shapes");
    const pieces: Shape[] = kept.map(([a, b], k) => {
      const piece: Shape = {
        id: pieceId(author, seq, k),
        author: original.author,
        style: original.style,
        // A piece is never drawn on: its pen is the original's, now gone.
        kind: { type: "stroke", points: points.slice(a, b), smooth, finished: true },
      };
      if (original.transform) piece.transform = original.transform;
      return piece;
    });
    const p = this.pageMutAt(pi);
    const [removed] = p.shapes.splice(index, 1);
    const step: Step = [{ type: "shape_removed", page: pageId, index, shape: removed }];
    pieces.forEach((piece, k) => {
      step.push({ type: "shape_added", page: pageId, id: piece.id });
      p.shapes.splice(index + k, 0, piece);
    });
    return { kind: "step", step };
  }

  private undoRedo(author: PeerId, undo: boolean, applied: Applied): void {
    const nothing = undo ? "nothing_to_undo" : "nothing_to_redo";
    const existing = this.history.get(author);
    if (!existing) err(nothing);
    const stack = undo ? existing!.undo : existing!.redo;
    // Steps above the first one that still changes something are dropped: each is a no-op
    // now, and skipping them is what the author expects from the button.
    let at = -1;
    for (let i = stack.length - 1; i >= 0; i--) {
      if (stepWouldRevert(this.pagesArr, stack[i])) {
        at = i;
        break;
      }
    }
    if (at < 0) err(nothing);
    const h = this.historyMut(author, false)!;
    const mine = undo ? h.undo : h.redo;
    mine.length = at + 1;
    const step = mine.pop() ?? [];
    const currentBefore = this.current;
    const back = this.revertStep(step);
    applied.currentPage = currentBefore !== this.current;
    for (const c of back) {
      switch (c.type) {
        case "page_added":
          applied.pageList = true;
          applied.pages.push(c.page);
          break;
        case "page_removed":
        case "page_moved":
          applied.pageList = true;
          break;
        default:
          if (!applied.pages.includes(c.page)) applied.pages.push(c.page);
      }
    }
    if (undo) h.redo.push(back);
    else pushUndo(h, back);
  }

  /** Reverts a whole step, last change first; returns the step that takes it back. */
  private revertStep(step: Step): Step {
    const back: Step = [];
    for (let i = step.length - 1; i >= 0; i--) {
      const c = this.revert(step[i]);
      if (c) back.push(c);
    }
    return back;
  }

  /** Takes `c` back as far as the board allows; returns the change that redoes it. */
  private revert(c: Change): Change | undefined {
    if (!wouldRevert(this.pagesArr, c)) return undefined;
    switch (c.type) {
      case "shape_added": {
        const p = this.pageMut(c.page);
        const index = shapeIndex(p, c.id);
        const [shape] = p.shapes.splice(index, 1);
        return { type: "shape_removed", page: c.page, index, shape };
      }
      case "shape_removed": {
        const p = this.pageMut(c.page);
        p.shapes.splice(Math.min(c.index, p.shapes.length), 0, c.shape);
        return { type: "shape_added", page: c.page, id: c.shape.id };
      }
      case "transform_set": {
        const p = this.pageMut(c.page);
        const i = shapeIndex(p, c.shape);
        const now = transformOf(p.shapes[i]);
        p.shapes[i] = withTransform(p.shapes[i], c.before);
        return { type: "transform_set", page: c.page, shape: c.shape, before: now };
      }
      case "page_added": {
        const pages = this.ownPages();
        const index = pageIndex(pages, c.page);
        const [removed] = pages.splice(index, 1);
        const wasCurrent = this.current === c.page;
        if (c.current_before !== undefined && wasCurrent && pageIndex(pages, c.current_before) >= 0) {
          this.current = c.current_before;
        } else {
          this.current = pageRemoved(pages, this.current, c.page, index);
        }
        return { type: "page_removed", index, page: removed, was_current: wasCurrent };
      }
      case "page_removed": {
        const pages = this.ownPages();
        const id = c.page.id;
        pages.splice(Math.min(c.index, pages.length), 0, c.page);
        let currentBefore: PageId | undefined;
        if (c.was_current || this.current === undefined) {
          const prev = this.current;
          this.current = id;
          currentBefore = prev !== id ? prev : undefined;
        }
        const out: Change = { type: "page_added", page: id };
        if (currentBefore !== undefined) out.current_before = currentBefore;
        return out;
      }
      case "page_moved": {
        const pages = this.ownPages();
        const now = pageIndex(pages, c.page);
        const [moved] = pages.splice(now, 1);
        pages.splice(Math.min(c.from, pages.length), 0, moved);
        return { type: "page_moved", page: c.page, from: now };
      }
      case "background_set": {
        const p = this.pageMut(c.page);
        const now = p.background ?? null;
        setBackground(p, c.before);
        return { type: "background_set", page: c.page, before: now };
      }
    }
  }

  // ---- documents ----

  /** The board as serde writes `Board` (the `board` field of a snapshot). */
  toJSON(): BoardJson {
    const out: BoardJson = {
      pages: this.pagesArr,
      clocks: Object.fromEntries([...this.clocks].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      history: Object.fromEntries(
        [...this.history]
          .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
          .map(([k, h]): [string, HistoryJson] => [k, { undo: h.undo, redo: h.redo }]),
      ),
    };
    if (this.current !== undefined) out.current = this.current;
    return out;
  }

  /**
   * A board from the relay's JSON. It trusts the relay for the limits (the relay checked
   * the document when it loaded it) but checks the shape of the data it relies on.
   */
  static fromJSON(json: BoardJson): Board {
    const b = new Board();
    if (!json || !Array.isArray(json.pages)) err("malformed", "no pages");
    const seen = new Set<string>();
    b.pagesArr = json.pages.map((p) => {
      if (!isBoardId(p.id) || seen.has(p.id)) err("malformed", "page id");
      seen.add(p.id);
      const page = normalizePage(p);
      for (const s of page.shapes) {
        checkShape(s.kind);
        if (s.transform) checkTransform(s.transform);
      }
      return page;
    });
    b.current = json.current ?? undefined;
    if (b.current === undefined ? b.pagesArr.length > 0 : !seen.has(b.current)) err("page_not_found");
    for (const [k, v] of Object.entries(json.clocks ?? {})) b.clocks.set(k, v);
    for (const [k, h] of Object.entries(json.history ?? {})) {
      b.history.set(k, { undo: (h.undo ?? []).map(normalizeStep), redo: (h.redo ?? []).map(normalizeStep) });
    }
    return b;
  }
}

function normalizeStep(step: Step): Step {
  return step.map((c): Change => {
    switch (c.type) {
      case "shape_removed":
        return { ...c, shape: normalizeShape(c.shape) };
      case "page_removed":
        return { ...c, page: normalizePage(c.page) };
      case "background_set":
        return { ...c, before: c.before ?? null };
      case "page_added":
        return c.current_before == null ? { type: "page_added", page: c.page } : c;
      default:
        return c;
    }
  });
}

function setBackground(p: Page, bg: Background | null): void {
  if (bg) p.background = bg;
  else delete p.background;
}

function pushUndo(h: History, step: Step): void {
  if (step.length === 0) return;
  h.undo.push(step);
  while (h.undo.length > MAX_UNDO_DEPTH) h.undo.shift();
}

/** Keeps the current page on a page that exists after `index` was removed. */
function pageRemoved(pages: readonly Page[], current: PageId | undefined, removed: PageId, index: number): PageId | undefined {
  if (current !== removed) return current;
  if (pages.length === 0) return undefined;
  return pages[Math.min(index, pages.length - 1)].id;
}

/** The board as of server seq `seq`. */
export class Snapshot {
  constructor(
    readonly seq: number,
    readonly board: Board,
  ) {}

  static fromJSON(json: SnapshotJson | string): Snapshot {
    const v: SnapshotJson = typeof json === "string" ? JSON.parse(json) : json;
    if (!v || typeof v.version !== "number") err("malformed", "no version");
    if (v.version !== DOC_VERSION) err("unsupported_version", String(v.version));
    return new Snapshot(v.seq ?? 0, Board.fromJSON(v.board));
  }

  toJSON(): SnapshotJson {
    return { version: DOC_VERSION, seq: this.seq, board: this.board.toJSON() };
  }
}

export type { BoardOp };
