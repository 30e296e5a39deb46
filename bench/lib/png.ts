/**
 * A tiny PNG writer for benchmark charts: an RGB raster with lines, filled rectangles and text in a 3×5
 * bitmap font, encoded as an 8-bit truecolour PNG (filter 0 per scanline, deflated by node:zlib), and a
 * line chart on top of it (axes, ticks, labels, legend with colour swatches). No dependencies.
 */
import { deflateSync } from 'node:zlib';

export type Rgb = readonly [number, number, number];

/** 3×5 glyphs, one number per row, bit 4 the left column. Lower case prints as upper case. */
const GLYPHS: Record<string, readonly number[]> = {
  '0': [7, 5, 5, 5, 7], '1': [2, 6, 2, 2, 7], '2': [7, 1, 7, 4, 7], '3': [7, 1, 7, 1, 7], '4': [5, 5, 7, 1, 1],
  '5': [7, 4, 7, 1, 7], '6': [7, 4, 7, 5, 7], '7': [7, 1, 1, 1, 1], '8': [7, 5, 7, 5, 7], '9': [7, 5, 7, 1, 7],
  A: [2, 5, 7, 5, 5], B: [6, 5, 6, 5, 6], C: [3, 4, 4, 4, 3], D: [6, 5, 5, 5, 6], E: [7, 4, 6, 4, 7],
  F: [7, 4, 6, 4, 4], G: [3, 4, 5, 5, 3], H: [5, 5, 7, 5, 5], I: [7, 2, 2, 2, 7], J: [1, 1, 1, 5, 2],
  K: [5, 5, 6, 5, 5], L: [4, 4, 4, 4, 7], M: [5, 7, 7, 5, 5], N: [6, 5, 5, 5, 5], O: [2, 5, 5, 5, 2],
  P: [6, 5, 6, 4, 4], Q: [2, 5, 5, 6, 3], R: [6, 5, 6, 5, 5], S: [3, 4, 2, 1, 6], T: [7, 2, 2, 2, 2],
  U: [5, 5, 5, 5, 7], V: [5, 5, 5, 5, 2], W: [5, 5, 7, 7, 5], X: [5, 5, 2, 5, 5], Y: [5, 5, 2, 2, 2],
  Z: [7, 1, 2, 4, 7], ' ': [0, 0, 0, 0, 0], '.': [0, 0, 0, 0, 2], ',': [0, 0, 0, 2, 4], '-': [0, 0, 7, 0, 0],
  '+': [0, 2, 7, 2, 0], ':': [0, 2, 0, 2, 0], '%': [5, 1, 2, 4, 5], '(': [1, 2, 2, 2, 1], ')': [4, 2, 2, 2, 4],
  '/': [1, 1, 2, 4, 4], '=': [0, 7, 0, 7, 0], '<': [1, 2, 4, 2, 1], '>': [4, 2, 1, 2, 4], '|': [2, 2, 2, 2, 2],
  _: [0, 0, 0, 0, 7], '?': [7, 1, 2, 0, 2],
};

/** CRC-32 of PNG chunks (IEEE polynomial, table-driven). */
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG bytes of an RGB raster (`rgb` holds width × height × 3 bytes, rows top to bottom). */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // truecolour
  const rows = Buffer.alloc(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    rows[y * (1 + width * 3)] = 0; // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(rows, y * (1 + width * 3) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

export class Raster {
  readonly rgb: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.rgb = new Uint8Array(width * height * 3);
    this.rect(0, 0, width, height, background);
  }

  pixel(x: number, y: number, color: Rgb): void {
    const px = Math.round(x);
    const py = Math.round(y);
    if (px < 0 || py < 0 || px >= this.width || py >= this.height) return;
    const at = (py * this.width + px) * 3;
    this.rgb[at] = color[0];
    this.rgb[at + 1] = color[1];
    this.rgb[at + 2] = color[2];
  }

  rect(x: number, y: number, width: number, height: number, color: Rgb): void {
    for (let row = Math.round(y); row < Math.round(y + height); row++) for (let col = Math.round(x); col < Math.round(x + width); col++) this.pixel(col, row, color);
  }

  /** A line `thickness` pixels wide (Bresenham, with a square pen). */
  line(x0: number, y0: number, x1: number, y1: number, color: Rgb, thickness = 1): void {
    let x = Math.round(x0);
    let y = Math.round(y0);
    const xEnd = Math.round(x1);
    const yEnd = Math.round(y1);
    const dx = Math.abs(xEnd - x);
    const dy = -Math.abs(yEnd - y);
    const sx = x < xEnd ? 1 : -1;
    const sy = y < yEnd ? 1 : -1;
    let error = dx + dy;
    const half = Math.floor(thickness / 2);
    for (;;) {
      this.rect(x - half, y - half, thickness, thickness, color);
      if (x === xEnd && y === yEnd) return;
      const twice = 2 * error;
      if (twice >= dy) {
        error += dy;
        x += sx;
      }
      if (twice <= dx) {
        error += dx;
        y += sy;
      }
    }
  }

  /** Text in the 3×5 font at `scale` pixels per dot; returns the width drawn. */
  text(x: number, y: number, text: string, color: Rgb, scale = 2): number {
    let cursor = x;
    for (const char of text.toUpperCase()) {
      const glyph = GLYPHS[char] ?? GLYPHS['?']!;
      glyph.forEach((row, dy) => {
        for (let dx = 0; dx < 3; dx++) if (row & (4 >> dx)) this.rect(cursor + dx * scale, y + dy * scale, scale, scale, color);
      });
      cursor += 4 * scale;
    }
    return cursor - x;
  }

  png(): Buffer {
    return encodePng(this.width, this.height, this.rgb);
  }
}

/** Width in pixels of `text` at `scale`. */
export const textWidth = (text: string, scale = 2): number => text.length * 4 * scale;

export interface Series {
  name: string;
  color: Rgb;
  points: ReadonlyArray<readonly [number, number]>;
  /** Line width in pixels (default 2). */
  width?: number;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Axis ranges; default the data's (y widened to include 0). */
  x?: readonly [number, number];
  y?: readonly [number, number];
  /** Corner of the legend (default top right). */
  legend?: 'top-left' | 'top-right' | 'bottom-right';
}

/** A round step giving about `count` ticks over `span`. */
function tickStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const scaled = raw / power;
  return (scaled < 1.5 ? 1 : scaled < 3.5 ? 2 : scaled < 7.5 ? 5 : 10) * power;
}

const formatTick = (value: number, step: number): string => (step >= 1 ? value.toFixed(0) : value.toFixed(Math.min(3, Math.ceil(-Math.log10(step)))));

/** Draws a line chart into the box (x, y, width, height) of `raster`, with a legend in a corner. */
export function lineChart(raster: Raster, box: { x: number; y: number; width: number; height: number }, series: readonly Series[], options: ChartOptions): void {
  const ink: Rgb = [40, 40, 40];
  const grid: Rgb = [225, 225, 225];
  const all = series.flatMap((s) => s.points);
  const [x0, x1] = options.x ?? [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [y0, y1] = options.y ?? [Math.min(0, ...all.map((p) => p[1])), Math.max(0, ...all.map((p) => p[1]))];
  const left = box.x + 70;
  const top = box.y + 30;
  const right = box.x + box.width - 24;
  const bottom = box.y + box.height - 40;
  const px = (value: number) => left + ((value - x0) / (x1 - x0 || 1)) * (right - left);
  const py = (value: number) => bottom - ((value - y0) / (y1 - y0 || 1)) * (bottom - top);
  raster.text(box.x + (box.width - textWidth(options.title)) / 2, box.y + 6, options.title, ink);
  // Grid and ticks.
  const yStep = tickStep(y1 - y0, 6);
  for (let value = Math.ceil(y0 / yStep) * yStep; value <= y1 + yStep * 1e-9; value += yStep) {
    raster.line(left, py(value), right, py(value), grid);
    const label = formatTick(value, yStep);
    raster.text(left - 6 - textWidth(label), py(value) - 5, label, ink);
  }
  const xStep = tickStep(x1 - x0, 8);
  for (let value = Math.ceil(x0 / xStep) * xStep; value <= x1 + xStep * 1e-9; value += xStep) {
    raster.line(px(value), top, px(value), bottom, grid);
    const label = formatTick(value, xStep);
    raster.text(px(value) - textWidth(label) / 2, bottom + 6, label, ink);
  }
  if (y0 < 0 && y1 > 0) raster.line(left, py(0), right, py(0), [150, 150, 150]);
  raster.line(left, top, left, bottom, ink);
  raster.line(left, bottom, right, bottom, ink);
  raster.text(left + (right - left - textWidth(options.xLabel)) / 2, bottom + 22, options.xLabel, ink);
  raster.text(box.x + 2, top - 22, options.yLabel, ink);
  // Series.
  for (const s of series) {
    for (let i = 1; i < s.points.length; i++) {
      const [a, b] = [s.points[i - 1]!, s.points[i]!];
      raster.line(px(a[0]), py(a[1]), px(b[0]), py(b[1]), s.color, s.width ?? 2);
    }
  }
  // Legend: a swatch and the name per series.
  const legendWidth = Math.max(...series.map((s) => textWidth(s.name))) + 30;
  const lx = options.legend === 'top-left' ? left + 12 : right - legendWidth - 4;
  let ly = options.legend === 'bottom-right' ? bottom - series.length * 16 - 6 : top + 6;
  raster.rect(lx - 4, ly - 4, legendWidth + 4, series.length * 16 + 4, [250, 250, 250]);
  for (const s of series) {
    raster.rect(lx, ly, 16, 10, s.color);
    raster.text(lx + 22, ly, s.name, ink);
    ly += 16;
  }
}
