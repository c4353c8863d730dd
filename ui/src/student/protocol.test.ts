import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  CLIENT_MESSAGE_TYPES,
  chatLength,
  encodeClientMessage,
  ERROR_CODES,
  MAX_CHAT_CHARS,
  MAX_STAGE,
  parseApiError,
  parseServerMessage,
  PROTOCOL_VERSION,
  RELAY_WRITTEN_TYPES,
  SERVER_MESSAGE_TYPES,
} from "./protocol";

// The Rust types are the source of truth; these lists are written by hand beside them.
const proto = (file: string) => readFileSync(new URL(`../../../crates/proto/src/${file}`, import.meta.url), "utf8");

/** The variants of `pub enum name { … }`, snake_cased as serde renames them. */
function variants(source: string, name: string): string[] {
  const start = source.indexOf(`pub enum ${name} {`);
  expect(start, `enum ${name}`).toBeGreaterThanOrEqual(0);
  const body = source.slice(start, source.indexOf("\n}", start));
  return [...body.matchAll(/^ {4}([A-Z][A-Za-z0-9]*)\b/gm)].map((m) =>
    m[1].replace(/(?<!^)([A-Z])/g, "_$1").toLowerCase(),
  );
}

function constant(source: string, name: string): number {
  const m = new RegExp(`pub const ${name}: \\w+ = (\\d+);`).exec(source);
  expect(m, name).not.toBeNull();
  return Number(m?.[1]);
}

describe("the hand-written protocol matches crates/proto", () => {
  const signal = proto("signal.rs");

  it("has every message type in both directions", () => {
    expect([...SERVER_MESSAGE_TYPES].sort()).toEqual(variants(signal, "ServerMessage").sort());
    expect([...CLIENT_MESSAGE_TYPES].sort()).toEqual(variants(signal, "ClientMessage").sort());
  });

  it("reads the messages the relay writes outside its enum, and says so in signal.rs", () => {
    for (const type of RELAY_WRITTEN_TYPES) {
      expect(SERVER_MESSAGE_TYPES).not.toContain(type);
      expect(signal).toContain(`"type": "${type}"`);
    }
  });

  it("has every error code", () => {
    expect([...ERROR_CODES].sort()).toEqual(variants(proto("error.rs"), "ErrorCode").sort());
  });

  it("has the same version and limits", () => {
    expect(PROTOCOL_VERSION).toBe(constant(signal, "PROTOCOL_VERSION"));
    expect(MAX_CHAT_CHARS).toBe(constant(signal, "MAX_CHAT_CHARS"));
    expect(MAX_STAGE).toBe(constant(signal, "MAX_STAGE"));
  });
});

describe("encodeClientMessage", () => {
  it("puts the version beside the type, as the relay's own test spells it", () => {
    expect(encodeClientMessage({ type: "raise_hand", raised: true })).toBe(
      '{"v":1,"type":"raise_hand","raised":true}',
    );
    expect(encodeClientMessage({ type: "leave_stage" })).toBe('{"v":1,"type":"leave_stage"}');
    expect(encodeClientMessage({ type: "ping", id: 7 })).toBe('{"v":1,"type":"ping","id":7}');
  });
});

describe("parseServerMessage", () => {
  it("reads a flat error", () => {
    expect(
      parseServerMessage('{"v":1,"type":"error","code":"stage_full","message":"six students are on stage"}'),
    ).toEqual({ v: 1, type: "error", code: "stage_full", message: "six students are on stage" });
  });

  it("keeps unknown fields and drops unknown types and versions", () => {
    expect(parseServerMessage('{"v":1,"type":"left","peer":"s-01","why":"tab closed"}')).toMatchObject({
      type: "left",
      peer: "s-01",
    });
    expect(parseServerMessage('{"v":1,"type":"confetti"}')).toBeNull();
    expect(parseServerMessage('{"v":2,"type":"left","peer":"s-01"}')).toBeNull();
    expect(parseServerMessage('{"type":"left","peer":"s-01"}')).toBeNull();
  });

  it("drops what is not JSON or misses a field it needs", () => {
    expect(parseServerMessage("not json")).toBeNull();
    expect(parseServerMessage("[1,2]")).toBeNull();
    expect(parseServerMessage('{"v":1,"type":"left"}')).toBeNull();
    expect(parseServerMessage('{"v":1,"type":"participant","participant":{"id":"a","name":"A"}}')).toBeNull();
    expect(parseServerMessage('{"v":1,"type":"stage","peers":["a",3]}')).toBeNull();
  });

  it("reads a board snapshot and pen grants as the relay writes them", () => {
    const snapshot =
      '{"v":1,"type":"board_snapshot","epoch":1767000000000,"snapshot":{"version":1,"seq":1,' +
      '"board":{"pages":[{"id":"relay:1","shapes":[]}],"current":"relay:1","clocks":{"relay":1},"history":{}}}}';
    expect(parseServerMessage(snapshot)).toMatchObject({ type: "board_snapshot", epoch: 1767000000000 });
    expect(parseServerMessage('{"v":1,"type":"board_snapshot","snapshot":{}}')).toBeNull();
    const grants = '{"v":1,"type":"board_grants","grants":[{"peer":"s1","scope":{"type":"board"}}]}';
    expect(parseServerMessage(grants)).toMatchObject({ grants: [{ peer: "s1", scope: { type: "board" } }] });
    expect(parseServerMessage('{"v":1,"type":"board_grants","grants":[{"peer":"s1"}]}')).toBeNull();
  });

  it("fills the fields it can default", () => {
    expect(parseServerMessage('{"v":1,"type":"pong"}')).toEqual({ v: 1, type: "pong", id: 0 });
    expect(parseServerMessage('{"v":1,"type":"error","code":"forbidden"}')).toMatchObject({ message: "" });
  });
});

describe("parseApiError", () => {
  it("reads {code, message} and nothing else", () => {
    expect(parseApiError('{"code":"capacity","message":"full"}')).toEqual({ code: "capacity", message: "full" });
    expect(parseApiError('{"code":"capacity"}')).toEqual({ code: "capacity", message: "" });
    expect(parseApiError("<html>502 Bad Gateway</html>")).toBeNull();
    expect(parseApiError('{"error":"x"}')).toBeNull();
  });
});

describe("chatLength", () => {
  it("counts characters as Rust does, not UTF-16 units", () => {
    expect(chatLength("hello")).toBe(5);
    expect(chatLength("你好")).toBe(2);
    expect(chatLength("👋🏽")).toBe(2);
    expect("👋🏽".length).toBe(4);
  });
});
