import { describe, expect, it } from "vitest";
import { base64Bytes, blobBase64 } from "./save";

describe("saving files", () => {
  it("encodes large binary blobs as base64 without loss", async () => {
    const bytes = new Uint8Array(200_003);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    const text = await blobBase64(new Blob([bytes]));
    expect(Buffer.from(text, "base64").equals(Buffer.from(bytes))).toBe(true);
    expect(await blobBase64(new Blob([]))).toBe("");
    expect(base64Bytes(text)).toEqual(bytes);
  });
});
