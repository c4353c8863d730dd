import { describe, expect, it } from "vitest";
import { cleanName, joinClass, joinUrl, lastName, readClaims, saveJoin, savedJoin, type KeyValue } from "./join";

/** A token as the relay signs it, with any claims (the page never checks the MAC). */
function token(claims: object, mac = "bWFj"): string {
  const json = new TextEncoder().encode(JSON.stringify(claims));
  const b64 = btoa(String.fromCharCode(...json)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  return `lt1.${b64}.${mac}`;
}

function memory(): KeyValue & { data: Map<string, string> } {
  const data = new Map<string, string>();
  return {
    data,
    getItem: (k) => data.get(k) ?? null,
    setItem: (k, v) => void data.set(k, v),
    removeItem: (k) => void data.delete(k),
  };
}

const ORIGIN = { protocol: "http:", host: "10.0.0.5:8686" };
const LINK = token({ room: "math", sub: "invite", name: "", role: "student", exp: 2000, invite: true });

describe("readClaims", () => {
  it("tells a class link from a personal token", () => {
    expect(readClaims(LINK)).toEqual({ room: "math", name: "", exp: 2000, invite: true });
    const personal = token({ room: "math", sub: "s-1", name: "李华", role: "student", exp: 2000 });
    expect(readClaims(personal)).toEqual({ room: "math", name: "李华", exp: 2000, invite: false });
  });

  it("is null for anything that is not a token", () => {
    for (const bad of ["", "lt1", "lt1.%%%.x", "lt2.e30.x", token([1, 2]), token({ room: 1, exp: 2 }), "lt1.bm90IGpzb24.x"]) {
      expect(readClaims(bad), bad).toBeNull();
    }
  });
});

describe("cleanName", () => {
  it("trims and accepts up to 64 characters, counting Chinese characters as one", () => {
    expect(cleanName("  Ann ")).toBe("Ann");
    expect(cleanName("名".repeat(64))).toHaveLength(64);
    expect(cleanName("名".repeat(65))).toBeNull();
  });

  it("refuses empty names and control characters", () => {
    expect(cleanName("   ")).toBeNull();
    expect(cleanName("A\u0007nn")).toBeNull();
  });
});

describe("saved joins", () => {
  const joined = { token: "lt1.x.y", peer: "s-1", name: "Ann", exp: 2000 };

  it("keeps a join per room and link until it expires, and remembers the name", () => {
    const store = memory();
    expect(savedJoin(store, "math", LINK, 1000)).toBeNull();
    saveJoin(store, "math", LINK, joined);
    expect(savedJoin(store, "math", LINK, 1000)).toEqual(joined);
    expect(lastName(store)).toBe("Ann");
    // Another link (a new class) is a new join.
    expect(savedJoin(store, "math", token({ room: "math", exp: 2000, invite: true }, "b3RoZXI"), 1000)).toBeNull();
    // Expired: forgotten.
    expect(savedJoin(store, "math", LINK, 2000)).toBeNull();
    expect([...store.data.keys()].filter((k) => k.startsWith("lectern.join."))).toEqual([]);
  });

  it("survives storage that throws or holds garbage", () => {
    const broken: KeyValue = {
      getItem: () => {
        throw new Error("SecurityError");
      },
      setItem: () => {
        throw new Error("QuotaExceededError");
      },
      removeItem: () => {},
    };
    expect(() => saveJoin(broken, "math", LINK, joined)).not.toThrow();
    expect(savedJoin(broken, "math", LINK, 1000)).toBeNull();
    expect(lastName(broken)).toBe("");
    const garbage = memory();
    garbage.setItem(`lectern.join.math.bWFj`, "{not json");
    expect(savedJoin(garbage, "math", LINK, 1000)).toBeNull();
  });
});

describe("joinClass", () => {
  it("posts the name with the link as bearer and returns the personal token", async () => {
    const calls: [string, RequestInit | undefined][] = [];
    const fetchFn = (async (url: string, init?: RequestInit) => {
      calls.push([url, init]);
      return new Response(JSON.stringify({ token: "lt1.p.q", peer: "s-ab", name: "Ann", exp: 2000 }), { status: 201 });
    }) as typeof fetch;
    const result = await joinClass(fetchFn, ORIGIN, "math", LINK, "Ann");
    expect(result).toEqual({ ok: true, joined: { token: "lt1.p.q", peer: "s-ab", name: "Ann", exp: 2000 } });
    expect(calls[0][0]).toBe(joinUrl(ORIGIN, "math"));
    expect(calls[0][0]).toBe("http://10.0.0.5:8686/join/math");
    expect(calls[0][1]?.method).toBe("POST");
    expect((calls[0][1]?.headers as Record<string, string>).Authorization).toBe(`Bearer ${LINK}`);
    expect(JSON.parse(String(calls[0][1]?.body))).toEqual({ name: "Ann" });
  });

  it("returns the relay's error, a network error, or an internal one for a body without JSON", async () => {
    const refuse = (async () =>
      new Response(JSON.stringify({ code: "token_expired", message: "the token expired" }), { status: 401 })) as typeof fetch;
    expect(await joinClass(refuse, ORIGIN, "math", LINK, "Ann")).toEqual({
      ok: false,
      error: { code: "token_expired", message: "the token expired" },
    });
    const offline = (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch;
    const net = await joinClass(offline, ORIGIN, "math", LINK, "Ann");
    expect(net.ok || net.error.code).toBe("network");
    const html = (async () => new Response("<html>", { status: 502 })) as typeof fetch;
    const bad = await joinClass(html, ORIGIN, "math", LINK, "Ann");
    expect(bad).toEqual({ ok: false, error: { code: "internal", message: "HTTP 502" } });
    // A 201 without a token is not a join.
    const empty = (async () => new Response("{}", { status: 201 })) as typeof fetch;
    expect((await joinClass(empty, ORIGIN, "math", LINK, "Ann")).ok).toBe(false);
  });
});
