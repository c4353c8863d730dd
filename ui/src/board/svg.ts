// A page as SVG, drawn with the same geometry as the canvas renderer.

import {
  arrowHead,
  centerLine,
  pressureWidth,
  shapeKindBounds,
  strokeOutline,
  textLines,
  TEXT_LINE_HEIGHT,
  uniformPressure,
  type PathSink,
} from "./geometry";
import { PAGE_HEIGHT, PAGE_WIDTH, type AssetRef, type Background, type Page, type Shape } from "./types";

export interface SvgOptions {
  /** URL (or data: URL) of a background; omitted when null. */
  backgroundHref?(bg: Background): string | null;
  /** URL of an image asset; a grey frame when null. */
  imageHref?(asset: AssetRef): string | null;
}

const num = (v: number) => String(Math.round(v * 100) / 100);

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

class SvgPath implements PathSink {
  d: string[] = [];
  moveTo(x: number, y: number) {
    this.d.push(`M${num(x)} ${num(y)}`);
  }
  lineTo(x: number, y: number) {
    this.d.push(`L${num(x)} ${num(y)}`);
  }
  quadraticCurveTo(cx: number, cy: number, x: number, y: number) {
    this.d.push(`Q${num(cx)} ${num(cy)} ${num(x)} ${num(y)}`);
  }
  closePath() {
    this.d.push("Z");
  }
  circle(x: number, y: number, r: number) {
    // Sweep flag 0: anticlockwise on screen, like the canvas arc, so the fill has no holes.
    const rr = num(r);
    this.d.push(`M${num(x + r)} ${num(y)}A${rr} ${rr} 0 1 0 ${num(x - r)} ${num(y)}A${rr} ${rr} 0 1 0 ${num(x + r)} ${num(y)}Z`);
  }
  toString() {
    return this.d.join("");
  }
}

function attrs(s: Shape): string {
  const parts: string[] = [];
  if (s.style.opacity !== 1) parts.push(`opacity="${num(s.style.opacity)}"`);
  if (s.style.highlighter) parts.push(`style="mix-blend-mode:multiply"`);
  if (s.transform) {
    const t = s.transform;
    const b = shapeKindBounds(s);
    const cx = b.x + b.w / 2;
    const cy = b.y + b.h / 2;
    parts.push(
      `transform="translate(${num(cx + t.dx)} ${num(cy + t.dy)}) rotate(${num((t.rotation * 180) / Math.PI)}) scale(${t.scale}) translate(${num(-cx)} ${num(-cy)})"`,
    );
  }
  parts.push(`data-id="${esc(s.id)}"`);
  return parts.join(" ");
}

export function shapeSvg(s: Shape, opts: SvgOptions = {}): string {
  const st = s.style;
  const a = attrs(s);
  const stroke = `stroke="${st.color}" stroke-width="${num(st.width)}" stroke-linecap="round" stroke-linejoin="round"`;
  const k = s.kind;
  switch (k.type) {
    case "stroke": {
      const path = new SvgPath();
      if (k.points.length === 0) return "";
      if (st.highlighter || uniformPressure(k.points)) {
        centerLine(path, k.points, k.smooth);
        const w = st.highlighter ? st.width : pressureWidth(st.width, k.points[0].pressure);
        return `<path ${a} d="${path}" fill="none" stroke="${st.color}" stroke-width="${num(w)}" stroke-linecap="round" stroke-linejoin="round"/>`;
      }
      strokeOutline(path, k.points, st.width, k.smooth);
      return `<path ${a} d="${path}" fill="${st.color}"/>`;
    }
    case "line":
      return `<line ${a} x1="${num(k.from.x)}" y1="${num(k.from.y)}" x2="${num(k.to.x)}" y2="${num(k.to.y)}" ${stroke}/>`;
    case "arrow": {
      const [h1, h2] = arrowHead(k.from, k.to, st.width);
      const d = `M${num(k.from.x)} ${num(k.from.y)}L${num(k.to.x)} ${num(k.to.y)}M${num(h1.x)} ${num(h1.y)}L${num(k.to.x)} ${num(k.to.y)}L${num(h2.x)} ${num(h2.y)}`;
      return `<path ${a} d="${d}" fill="none" ${stroke}/>`;
    }
    case "rectangle":
      return `<rect ${a} x="${num(k.rect.x)}" y="${num(k.rect.y)}" width="${num(k.rect.w)}" height="${num(k.rect.h)}" fill="${st.fill ?? "none"}" ${stroke}/>`;
    case "ellipse": {
      const { x, y, w, h } = k.rect;
      return `<ellipse ${a} cx="${num(x + w / 2)}" cy="${num(y + h / 2)}" rx="${num(w / 2)}" ry="${num(h / 2)}" fill="${st.fill ?? "none"}" ${stroke}/>`;
    }
    case "text": {
      const lines = textLines(k.text)
        .map((l, i) => `<tspan x="${num(k.at.x)}" y="${num(k.at.y + i * k.size * TEXT_LINE_HEIGHT)}">${esc(l)}</tspan>`)
        .join("");
      return `<text ${a} font-size="${num(k.size)}" font-family="system-ui, sans-serif" dominant-baseline="text-before-edge" fill="${st.color}" xml:space="preserve">${lines}</text>`;
    }
    case "image": {
      const href = opts.imageHref?.(k.asset) ?? null;
      const { x, y, w, h } = k.rect;
      if (!href) return `<rect ${a} x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" fill="none" stroke="#888888"/>`;
      return `<image ${a} x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" preserveAspectRatio="none" href="${esc(href)}"/>`;
    }
  }
}

/** The page as a standalone SVG document, 1600×900 page units. */
export function exportSvg(page: Page, opts: SvgOptions = {}): string {
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${PAGE_WIDTH} ${PAGE_HEIGHT}" width="${PAGE_WIDTH}" height="${PAGE_HEIGHT}">`,
    `<rect x="0" y="0" width="${PAGE_WIDTH}" height="${PAGE_HEIGHT}" fill="#ffffff"/>`,
  ];
  const bg = page.background ? (opts.backgroundHref?.(page.background) ?? null) : null;
  // Fitted and centred, as the canvas draws it.
  if (bg) out.push(`<image x="0" y="0" width="${PAGE_WIDTH}" height="${PAGE_HEIGHT}" preserveAspectRatio="xMidYMid meet" href="${esc(bg)}"/>`);
  // Isolate the group so highlighters multiply with the page, not with what hosts the SVG.
  out.push(`<g style="isolation:isolate">`);
  for (const s of page.shapes) out.push(shapeSvg(s, opts));
  out.push("</g></svg>");
  return out.join("\n");
}
