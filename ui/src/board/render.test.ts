import { describe, expect, it } from "vitest";
import { Board } from "./model";
import { BoardRenderer, exportSvg, sameLook } from "./render";
import { STYLE, addPage, pts, run, stroke, stubContext } from "./testing";

function setup() {
  const main = stubContext();
  const layers: ReturnType<typeof stubContext>[] = [];
  const r = new BoardRenderer(main.ctx, {
    createLayer: (w, h) => {
      const l = stubContext();
      layers.push(l);
      return { canvas: { width: w, height: h } as HTMLCanvasElement, ctx: l.ctx };
    },
  });
  r.resize(800, 450, 2);
  const b = new Board();
  const p = addPage(b, "t");
  return { r, b, p, main, layers };
}

describe("BoardRenderer", () => {
  it("draws finished shapes into the layer once, then only what is new", () => {
    const { r, b, p } = setup();
    for (let i = 0; i < 50; i++) stroke(b, "t", p, 5, i * 10, 100);
    let f = r.render(b.page(p), 0);
    expect(f).toMatchObject({ rebuilt: true, layerDrawn: 50, live: 0 });
    f = r.render(b.page(p), 16);
    expect(f).toMatchObject({ rebuilt: false, layerDrawn: 0, live: 0 });
    stroke(b, "t", p, 5, 0, 300);
    f = r.render(b.page(p), 32);
    expect(f).toMatchObject({ rebuilt: false, layerDrawn: 1, live: 0 });
  });

  it("keeps open strokes and everything above them live", () => {
    const { r, b, p } = setup();
    stroke(b, "t", p, 5);
    const open = run(b, "s", { type: "begin_stroke", page: p, style: STYLE, smooth: true, points: pts(3) });
    stroke(b, "t", p, 5, 50);
    let f = r.render(b.page(p), 0);
    expect(f).toMatchObject({ layerDrawn: 1, live: 2 });
    run(b, "s", { type: "append_stroke", page: p, stroke: `s:${open.client_seq}`, points: pts(2, 9) });
    f = r.render(b.page(p), 16);
    expect(f).toMatchObject({ rebuilt: false, layerDrawn: 0, live: 2 });
    run(b, "s", { type: "end_stroke", page: p, stroke: `s:${open.client_seq}` });
    f = r.render(b.page(p), 32);
    expect(f).toMatchObject({ rebuilt: false, layerDrawn: 2, live: 0 });
  });

  it("rebuilds when a cached shape changes or goes, not when a rebuilt board shares it", () => {
    const { r, b, p } = setup();
    const a = stroke(b, "t", p, 5);
    stroke(b, "t", p, 5, 30);
    r.render(b.page(p), 0);
    // A clone (what a rebase makes) looks the same: no rebuild.
    const c = b.clone();
    expect(r.render(c.page(p), 16).rebuilt).toBe(false);
    run(c, "t", { type: "transform_shape", page: p, shape: a, transform: { dx: 5, dy: 0, scale: 1, rotation: 0 } });
    expect(r.render(c.page(p), 32).rebuilt).toBe(true);
    run(c, "t", { type: "erase_shapes", page: p, shapes: [a] });
    expect(r.render(c.page(p), 48).rebuilt).toBe(true);
    expect(r.render(c.page(p), 64).rebuilt).toBe(false);
  });

  it("scales the old layer while zooming and re-renders once the view settles", () => {
    const { r, b, p } = setup();
    stroke(b, "t", p, 5);
    r.render(b.page(p), 0);
    r.zoomAt(1.5, 400, 225, 100);
    let f = r.render(b.page(p), 110);
    expect(f.rebuilt).toBe(false);
    expect(f.again).toBe(true);
    f = r.render(b.page(p), 400);
    expect(f.rebuilt).toBe(true);
    expect(r.zoom()).toBeCloseTo(1.5);
    // Zoom keeps the point under the cursor still.
    const at = r.screenToPage(400, 225);
    expect(at.x).toBeCloseTo(800);
    expect(at.y).toBeCloseTo(450);
  });

  it("fades laser trails within a second", () => {
    const { r, b, p } = setup();
    r.addLaser("t", p, [{ x: 1, y: 1 }, { x: 5, y: 5 }], 0);
    expect(r.render(b.page(p), 500).again).toBe(true);
    expect(r.render(b.page(p), 1200).again).toBe(false);
  });

  it("treats a shape as unchanged only if its look is the same", () => {
    const b = new Board();
    const p = addPage(b, "t");
    stroke(b, "t", p, 3);
    const s = b.page(p)!.shapes[0];
    expect(sameLook(s, { ...s })).toBe(true);
    expect(sameLook(s, { ...s, transform: { dx: 1, dy: 0, scale: 1, rotation: 0 } })).toBe(false);
  });
});

describe("exportSvg", () => {
  it("contains every shape kind with its style", () => {
    const b = new Board();
    const p = addPage(b, "t");
    run(b, "t", { type: "set_background", page: p, background: { type: "image", asset: "bg.png" } });
    stroke(b, "t", p, 5, 10, 10);
    run(b, "t", {
      type: "begin_stroke",
      page: p,
      style: { ...STYLE, color: "#ff0000" },
      smooth: true,
      points: [
        { x: 0, y: 0, pressure: 0.2 },
        { x: 10, y: 5, pressure: 0.9 },
        { x: 20, y: 5, pressure: 0.5 },
      ],
    });
    run(b, "t", { type: "add_shape", page: p, style: { ...STYLE, highlighter: true, opacity: 0.4 }, shape: { type: "line", from: { x: 0, y: 0 }, to: { x: 9, y: 9 } } });
    run(b, "t", { type: "add_shape", page: p, style: STYLE, shape: { type: "arrow", from: { x: 0, y: 0 }, to: { x: 90, y: 9 } } });
    run(b, "t", { type: "add_shape", page: p, style: { ...STYLE, fill: "#00ff00" }, shape: { type: "rectangle", rect: { x: 1, y: 2, w: 3, h: 4 } } });
    run(b, "t", { type: "add_shape", page: p, style: STYLE, shape: { type: "ellipse", rect: { x: 10, y: 20, w: 30, h: 40 } } });
    run(b, "t", { type: "add_shape", page: p, style: STYLE, shape: { type: "text", at: { x: 5, y: 6 }, text: "a<b & 你好", size: 24 } });
    const img = run(b, "t", { type: "add_shape", page: p, style: STYLE, shape: { type: "image", asset: "pic.png", rect: { x: 0, y: 0, w: 50, h: 50 } } });
    run(b, "t", { type: "transform_shape", page: p, shape: `t:${img.client_seq}`, transform: { dx: 10, dy: 0, scale: 2, rotation: Math.PI / 2 } });
    const svg = exportSvg(b.page(p)!, { backgroundHref: () => "/assets/bg.png", imageHref: (a) => `/assets/${a}` });
    expect(svg).toContain('viewBox="0 0 1600 900"');
    expect(svg).toContain('href="/assets/bg.png"');
    expect(svg).toContain('fill="#ff0000"'); // pressure stroke as a filled outline
    expect(svg).toContain("<line");
    expect(svg).toContain("mix-blend-mode:multiply");
    expect(svg).toContain('fill="#00ff00"');
    expect(svg).toContain("<ellipse");
    expect(svg).toContain("a&#60;b &#38; 你好");
    expect(svg).toContain('href="/assets/pic.png"');
    expect(svg).toContain("rotate(90)");
    expect(svg.match(/<path/g)!.length).toBe(3);
  });
});
