// The whiteboard's shell for a page: owns a `BoardSession`, sends what it drains on the
// page's signaling connection, and exposes what the panel shows. The page calls
// `welcomed` / `connectionLost` / `receive` from its signaling events; both the Class page
// and the student page do, over the same `Signaling` client.

import { computed, markRaw, onScopeDispose, ref, shallowRef } from "vue";
import type { GrantScope, PeerId, ServerMessage } from "../student/protocol";
import type { ClientBoard } from "./client";
import { DocumentTexts, type ImportTarget } from "./importPdf";
import { BoardSession, refusalKey, type BoardClientMessage } from "./session";
import type { Background, BoardAction, BoardEphemeral, BoardOp, Page, PageId } from "./types";

/** How long a refusal stays on screen. */
export const NOTICE_MS = 5000;

/** What the board needs of the canvas component (`BoardCanvas`'s exposed API). */
export interface CanvasHandle {
  remoteEphemeral(peer: PeerId, e: BoardEphemeral, label?: string): void;
}

export interface BoardNotice {
  /** Catalog key of the sentence to show. */
  key: string;
  code: string;
}

export function useBoard(send: (message: BoardClientMessage) => boolean, nameOf: (peer: PeerId) => string = (p) => p) {
  const session = shallowRef<BoardSession | null>(null);
  const client = shallowRef<ClientBoard | null>(null);
  /** Rises with every change the panel shows: the board, the pen, the connection. */
  const revision = ref(0);
  const notice = ref<BoardNotice | null>(null);
  let canvas: CanvasHandle | null = null;
  let unsubscribe: (() => void) | null = null;
  let noticeTimer: ReturnType<typeof setTimeout> | null = null;

  function showNotice(code: string): void {
    notice.value = { key: refusalKey(code, session.value?.teacher ?? false), code };
    if (noticeTimer !== null) clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (notice.value = null), NOTICE_MS);
  }

  /** Does what the session asks and tells the panel. */
  function flush(): void {
    const s = session.value;
    if (!s) return;
    for (const o of s.drain()) {
      if (o.kind === "send") send(o.message);
      else if (o.kind === "ephemeral") canvas?.remoteEphemeral(o.peer, o.e, nameOf(o.peer));
      else showNotice(o.code);
    }
    if (s.client !== client.value) {
      unsubscribe?.();
      unsubscribe = null;
      // Not reactive: the board is big and changes through its own `subscribe`.
      client.value = s.client ? markRaw(s.client) : null;
      unsubscribe = s.client?.subscribe(() => revision.value++) ?? null;
    }
    revision.value++;
  }

  /** The relay welcomed this page as `me`: (re)join the board. */
  function welcomed(me: PeerId, teacher: boolean): void {
    const s = session.value;
    if (!s || s.me !== me || s.teacher !== teacher) session.value = markRaw(new BoardSession(me, teacher));
    session.value!.connected();
    flush();
  }

  function connectionLost(): void {
    if (!session.value || session.value.state === "offline") return;
    session.value.disconnected();
    flush();
  }

  /** A relay message; false when it is not the board's. */
  function receive(message: ServerMessage): boolean {
    const handled = session.value?.receive(message) ?? false;
    if (handled) flush();
    return handled;
  }

  /** Forgets the board (the class ended). */
  function reset(): void {
    texts.clear();
    unsubscribe?.();
    unsubscribe = null;
    session.value = null;
    client.value = null;
    notice.value = null;
  }

  const tick = <T>(f: () => T) =>
    computed(() => {
      void revision.value;
      return f();
    });

  const state = tick(() => session.value?.state ?? "offline");
  const grants = tick(() => session.value?.grants ?? []);
  // A copy: the board changes its page list in place, and a computed that returned the
  // same array would not tell the panel that a page came or went.
  const pages = tick((): readonly Page[] => [...(client.value?.board().pages() ?? [])]);
  const currentPage = tick(() => client.value?.board().currentPage());
  const pageIndex = tick(() => pages.value.findIndex((p) => p.id === currentPage.value));
  const canDraw = tick(() => session.value?.canDraw(currentPage.value) ?? false);
  const hasPen = tick(() => !!session.value && session.value.grantOf(session.value.me) !== undefined);
  const canUndo = tick(() => client.value?.canUndo() ?? false);
  const canRedo = tick(() => client.value?.canRedo() ?? false);

  /** Applies and sends a toolbar action; false when the board refused it. */
  function act(action: BoardAction): boolean {
    const s = session.value;
    if (!s) return false;
    const refused = s.act(action);
    flush();
    return refused === null;
  }

  function goToPage(index: number): void {
    const page = pages.value[index];
    if (page && page.id !== currentPage.value) act({ type: "set_current_page", page: page.id });
  }

  /** Adds a page at `index` (the end when absent); the new page's id, or null. */
  function addPageAt(index: number | undefined, background?: Background): PageId | null {
    const c = client.value;
    if (!c) return null;
    const action: BoardAction = { type: "add_page" };
    if (index !== undefined) action.index = index;
    if (background) action.background = background;
    if (!act(action)) return null;
    // The new page's id is ours: `me:<client_seq>` of the op just made.
    const made = c.pending().at(-1);
    return made ? `${made.author}:${made.client_seq}` : null;
  }

  function showPage(page: PageId): void {
    if (page !== currentPage.value) act({ type: "set_current_page", page });
  }

  function addPage(): void {
    const made = addPageAt(pageIndex.value + 1);
    if (made) showPage(made);
  }

  /** Text of imported documents, kept for the class (see `DocumentTexts`). */
  const texts = new DocumentTexts();

  /** Where a document import puts its pages: after the current page. */
  const importTarget: ImportTarget = {
    pageCount: () => pages.value.length,
    insertAt: () => pageIndex.value + 1,
    addPage: (index, background) => addPageAt(index, background),
    showPage,
  };

  onScopeDispose(() => {
    unsubscribe?.();
    if (noticeTimer !== null) clearTimeout(noticeTimer);
  });

  return {
    session,
    client,
    revision,
    notice,
    state,
    grants,
    pages,
    currentPage,
    pageIndex,
    canDraw,
    hasPen,
    canUndo,
    canRedo,
    welcomed,
    connectionLost,
    receive,
    reset,
    /** Wire `BoardCanvas` in: it shows remote lasers and cursors. */
    attachCanvas(c: CanvasHandle | null): void {
      canvas = c;
    },
    /** An op `BoardCanvas` made (its `op` event). */
    sent(op: BoardOp): void {
      session.value?.sent(op);
      flush();
    },
    ephemeral(e: BoardEphemeral): void {
      session.value?.ephemeral(e);
      flush();
    },
    localRefused(code: string): void {
      session.value?.localRefused(code);
      flush();
    },
    undo: () => void act({ type: "undo" }),
    redo: () => void act({ type: "redo" }),
    clearPage(): void {
      if (currentPage.value) act({ type: "clear_page", page: currentPage.value });
    },
    prevPage: () => goToPage(pageIndex.value - 1),
    nextPage: () => goToPage(pageIndex.value + 1),
    addPage,
    addPageAt,
    showPage,
    texts,
    importTarget,
    /** The teacher hands `peer` the pen (every page) or takes it back. */
    setPen(peer: PeerId, on: boolean): void {
      const scope: GrantScope | null = on ? { type: "board" } : null;
      session.value?.grant(peer, scope);
      flush();
    },
    penOf(peer: PeerId): GrantScope | undefined {
      void revision.value;
      return session.value?.grantOf(peer);
    },
  };
}

export type BoardHandle = ReturnType<typeof useBoard>;
