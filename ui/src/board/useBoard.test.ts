import { afterEach, describe, expect, it } from "vitest";
import { computed, effectScope } from "vue";
import { Board, Snapshot } from "./model";
import type { BoardClientMessage } from "./session";
import { exportFileName, paintPage } from "./export";
import { STYLE, stubContext } from "./testing";
import { useBoard } from "./useBoard";

let scopes: ReturnType<typeof effectScope>[] = [];
afterEach(() => {
  for (const s of scopes) s.stop();
  scopes = [];
});

/** A teacher's board, synced to a relay's first page, sending into `sent`. */
function teacherBoard() {
  const scope = effectScope();
  scopes.push(scope);
  const sent: BoardClientMessage[] = [];
  const board = scope.run(() => useBoard((m) => (sent.push(m), true)))!;
  board.welcomed("t1", true);
  const first = new Board();
  first.apply({ author: "relay", client_seq: 1, action: { type: "add_page" } });
  board.receive({ type: "board_snapshot", epoch: 9, snapshot: new Snapshot(1, first).toJSON() });
  sent.length = 0;
  return { board, sent };
}

describe("useBoard", () => {
  it("hands the pen over and takes it back with the protocol's messages", () => {
    const { board, sent } = teacherBoard();
    board.setPen("s1", true);
    board.setPen("s1", false);
    expect(sent).toEqual([
      { type: "board_grant", peer: "s1", scope: { type: "board" } },
      { type: "board_grant", peer: "s1" },
    ]);
    expect(board.penOf("s1")).toBeUndefined();
    board.receive({ type: "board_grants", grants: [{ peer: "s1", scope: { type: "board" } }] });
    expect(board.penOf("s1")).toEqual({ type: "board" });
  });

  it("adds a page after the current one and turns to it; everyone follows", () => {
    const { board, sent } = teacherBoard();
    board.addPage();
    expect(sent).toEqual([
      { type: "board_op", op: { author: "t1", client_seq: 1, action: { type: "add_page", index: 1 } } },
      { type: "board_op", op: { author: "t1", client_seq: 2, action: { type: "set_current_page", page: "t1:1" } } },
    ]);
    expect(board.currentPage.value).toBe("t1:1");
    expect(board.pageIndex.value).toBe(1);
    board.prevPage();
    expect(board.currentPage.value).toBe("relay:1");
    board.prevPage(); // already the first: nothing to send
    expect(sent).toHaveLength(3);
  });

  it("counts every page it adds, not only the first (the board grows its page list in place)", () => {
    const { board } = teacherBoard();
    const count = computed(() => board.pages.value.length);
    expect(count.value).toBe(1);
    board.addPage();
    expect(count.value).toBe(2);
    board.addPage();
    board.addPage();
    expect(count.value).toBe(4);
    expect(board.pageIndex.value).toBe(3);
  });

  it("shows a refused toolbar action and sends nothing", () => {
    const { board, sent } = teacherBoard();
    board.undo(); // nothing of ours to undo: the button would be disabled
    expect(sent).toEqual([]);
    expect(board.notice.value).toBeNull();
    board.receive({ type: "board_refused", client_seq: 5, code: "too_many_shapes", message: "" });
    expect(board.notice.value).toEqual({ key: "board.refused.too_big", code: "too_many_shapes" });
  });
});

describe("export", () => {
  it("names files after the room and page", () => {
    expect(exportFileName("math-7a", 0, "png")).toBe("math-7a-page-1.png");
    expect(exportFileName("数学 7", 2, "svg")).toBe("___7-page-3.svg");
    expect(exportFileName("math-7a", -1, "pdf")).toBe("math-7a-board.pdf");
    expect(exportFileName("..", -1, "pdf")).toBe("board-board.pdf");
  });

  it("paints the page on white with every shape", () => {
    const { ctx, calls } = stubContext();
    const page = {
      id: "p",
      shapes: [
        { id: "a:1", author: "a", style: STYLE, kind: { type: "rectangle" as const, rect: { x: 1, y: 2, w: 3, h: 4 } } },
        { id: "a:2", author: "a", style: STYLE, kind: { type: "ellipse" as const, rect: { x: 1, y: 2, w: 3, h: 4 } } },
      ],
    };
    paintPage(ctx, page);
    expect(calls.get("fillRect")).toBe(1);
    expect(calls.get("save")).toBe(3);
  });
});
