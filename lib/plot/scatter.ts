// A log-log scatter plot of one Fisher diagonal against another, as SVG (text, written here: it is
// small) or PNG (pngjs encodes pixels we rasterise ourselves). Non-positive values cannot sit on a log
// axis and are left out (their count is printed on the plot); large diagonals are subsampled evenly.
import { PNG } from 'pngjs';
import { OptionError } from '../errors';
import { checkOptions, optionKeys } from '../options';

export interface ScatterOptions { title?: string; xLabel?: string; yLabel?: string; maxPoints?: number; width?: number; height?: number; }
const SCATTER_OPTIONS = optionKeys<ScatterOptions>('scatterSvg', { title: true, xLabel: true, yLabel: true, maxPoints: true, width: true, height: true });

interface Layout { px: Float64Array; py: Float64Array; lo: [number, number]; hi: [number, number]; dropped: number; kept: number; }

const M = { l: 70, r: 20, t: 36, b: 50 };

function layout(x: ArrayLike<number>, y: ArrayLike<number>, w: number, h: number, maxPoints: number): Layout {
  if (x.length !== y.length) throw new OptionError(`scatter: ${x.length} x values but ${y.length} y values`);
  const stride = Math.max(1, Math.ceil(x.length / maxPoints));
  const lx: number[] = [], ly: number[] = [];
  let dropped = 0;
  for (let i = 0; i < x.length; i += stride) {
    if (x[i] > 0 && y[i] > 0 && Number.isFinite(x[i]) && Number.isFinite(y[i])) { lx.push(Math.log10(x[i])); ly.push(Math.log10(y[i])); } else dropped++;
  }
  if (!lx.length) throw new OptionError('scatter: no point has both values positive: nothing to draw on log axes');
  const span = (v: number[]): [number, number] => {
    let a = Infinity, b = -Infinity;
    for (const e of v) { if (e < a) a = e; if (e > b) b = e; }
    return [Math.floor(a), Math.max(Math.ceil(b), Math.floor(a) + 1)];
  };
  const sx = span(lx), sy = span(ly);
  const pw = w - M.l - M.r, ph = h - M.t - M.b;
  const px = Float64Array.from(lx, (v) => M.l + ((v - sx[0]) / (sx[1] - sx[0])) * pw);
  const py = Float64Array.from(ly, (v) => M.t + ph - ((v - sy[0]) / (sy[1] - sy[0])) * ph);
  return { px, py, lo: [sx[0], sy[0]], hi: [sx[1], sy[1]], dropped, kept: lx.length };
}

const esc = (s: string): string => s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' }[c]!));

export function scatterSvg(x: ArrayLike<number>, y: ArrayLike<number>, o: ScatterOptions = {}): string {
  checkOptions('scatterSvg', o, SCATTER_OPTIONS);
  const w = o.width ?? 640, h = o.height ?? 520;
  const L = layout(x, y, w, h, o.maxPoints ?? 20000);
  const pw = w - M.l - M.r, ph = h - M.t - M.b;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`, `<rect x="${M.l}" y="${M.t}" width="${pw}" height="${ph}" fill="none" stroke="black"/>`];
  for (let e = L.lo[0]; e <= L.hi[0]; e++) {
    const X = M.l + ((e - L.lo[0]) / (L.hi[0] - L.lo[0])) * pw;
    parts.push(`<line x1="${X.toFixed(1)}" y1="${M.t}" x2="${X.toFixed(1)}" y2="${M.t + ph}" stroke="#ddd"/><text x="${X.toFixed(1)}" y="${M.t + ph + 16}" text-anchor="middle">1e${e}</text>`);
  }
  for (let e = L.lo[1]; e <= L.hi[1]; e++) {
    const Y = M.t + ph - ((e - L.lo[1]) / (L.hi[1] - L.lo[1])) * ph;
    parts.push(`<line x1="${M.l}" y1="${Y.toFixed(1)}" x2="${M.l + pw}" y2="${Y.toFixed(1)}" stroke="#ddd"/><text x="${M.l - 6}" y="${(Y + 4).toFixed(1)}" text-anchor="end">1e${e}</text>`);
  }
  const dots: string[] = [];
  for (let i = 0; i < L.kept; i++) dots.push(`M${L.px[i].toFixed(1)} ${L.py[i].toFixed(1)}h0`);
  parts.push(`<path d="${dots.join('')}" stroke="#1f77b4" stroke-opacity="0.5" stroke-width="3" stroke-linecap="round"/>`);
  parts.push(`<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${esc(o.title ?? '')}</text>`);
  parts.push(`<text x="${M.l + pw / 2}" y="${h - 12}" text-anchor="middle">${esc(o.xLabel ?? 'a')}</text>`);
  parts.push(`<text transform="translate(16 ${M.t + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel ?? 'b')}</text>`);
  if (L.dropped) parts.push(`<text x="${M.l + pw - 4}" y="${M.t + 14}" text-anchor="end" fill="#a00">${L.dropped} non-positive point(s) not shown</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}

/** The same plot as a PNG (points and axes; tick labels are SVG-only, the PNG is for quick looks). */
export function scatterPng(x: ArrayLike<number>, y: ArrayLike<number>, o: ScatterOptions = {}): Buffer {
  checkOptions('scatterPng', o, SCATTER_OPTIONS);
  const w = o.width ?? 640, h = o.height ?? 520;
  const L = layout(x, y, w, h, o.maxPoints ?? 20000);
  const png = new PNG({ width: w, height: h });
  png.data.fill(255);
  const put = (X: number, Y: number, r: number, g: number, b: number, alpha = 1): void => {
    if (X < 0 || Y < 0 || X >= w || Y >= h) return;
    const i = (w * Y + X) << 2;
    png.data[i] = png.data[i] * (1 - alpha) + r * alpha;
    png.data[i + 1] = png.data[i + 1] * (1 - alpha) + g * alpha;
    png.data[i + 2] = png.data[i + 2] * (1 - alpha) + b * alpha;
  };
  const pw = w - M.l - M.r, ph = h - M.t - M.b;
  for (let X = M.l; X <= M.l + pw; X++) { put(X, M.t, 0, 0, 0); put(X, M.t + ph, 0, 0, 0); }
  for (let Y = M.t; Y <= M.t + ph; Y++) { put(M.l, Y, 0, 0, 0); put(M.l + pw, Y, 0, 0, 0); }
  for (let i = 0; i < L.kept; i++) {
    const cx = Math.round(L.px[i]), cy = Math.round(L.py[i]);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) put(cx + dx, cy + dy, 31, 119, 180, 0.5);
  }
  return PNG.sync.write(png);
}
