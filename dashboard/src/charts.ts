/**
 * Time-series charts (uPlot): lines over the window, target and alert levels, deploy markers,
 * on the page's clock (UTC unless the reader chose local time). Every label drawn on the
 * canvas is placed clear of the others and recorded on its figure (`data-labels`, with the y
 * axis's ticks in `data-y-axis`), so a test can check that nothing overlaps or is cut off.
 */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom.js";
import { clockParts, time, zoneName } from "./format.js";

const PALETTE = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c", "#4d7c0f", "#a16207"];
const FONT = "11px system-ui, sans-serif";
const LABEL_HEIGHT = 13;

export interface Line {
  label: string;
  values: Array<number | null>;
}

export interface Level {
  label: string;
  value: number;
  kind: "target" | "alert";
}

export interface Marker {
  /** Unix seconds. */
  at: number;
  label: string;
  /** Drawn red: a regression began here. */
  bad?: boolean;
}

export interface ChartSpec {
  title: string;
  t: number[];
  lines: Line[];
  levels?: Level[];
  markers?: Marker[];
  /** A value with its unit (legend, levels). */
  format?: (value: number) => string;
  /** A value on the y axis, short; @default format */
  axisFormat?: (value: number) => string;
  height?: number;
  /** The x range shown, Unix seconds: the whole window, even where there is no data. */
  range?: [number, number];
}

/** A label drawn on the canvas, in CSS pixels from the canvas's top left. */
export interface LabelBox {
  text: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

const overlaps = (a: LabelBox, b: LabelBox) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

/** Places labels so that none covers another and each stays on the canvas; records what it drew. */
class LabelLayout {
  readonly boxes: LabelBox[] = [];
  constructor(
    private readonly ctx: CanvasRenderingContext2D,
    private readonly width: number,
    private readonly height: number,
  ) {}

  /**
   * The first of `ys` (top edges) where a label fits without overlap, x aligned left or right at
   * `x`: the first of `texts` (longest first) as wide as the canvas allows; false when none fits.
   */
  place(texts: string | string[], x: number, ys: number[], align: "left" | "right", color: string): boolean {
    const widthOf = (t: string) => this.ctx.measureText(t).width / devicePixelRatio + 2;
    const text = [texts].flat().find((t) => widthOf(t) <= this.width);
    if (text === undefined) return false;
    const w = widthOf(text);
    const left = Math.min(Math.max(align === "left" ? x : x - w, 0), this.width - w);
    for (const y of ys) {
      const box = { text, x: left, y: Math.min(Math.max(y, 0), this.height - LABEL_HEIGHT), w, h: LABEL_HEIGHT };
      if (this.boxes.some((placed) => overlaps(placed, box))) continue;
      this.boxes.push(box);
      // A light ground keeps the label readable over the lines it crosses.
      this.ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
      this.ctx.fillRect(box.x * devicePixelRatio, box.y * devicePixelRatio, box.w * devicePixelRatio, box.h * devicePixelRatio);
      this.ctx.fillStyle = color;
      this.ctx.textAlign = "left";
      this.ctx.textBaseline = "top";
      this.ctx.fillText(text, (box.x + 1) * devicePixelRatio, box.y * devicePixelRatio);
      return true;
    }
    return false;
  }
}

interface Peak {
  value: number;
  at: number;
}

/** Levels across the plot, markers down it, and a word on a peak above the scale: their labels never collide. */
function annotations(spec: ChartSpec, format: (value: number) => string, figure: HTMLElement, peak: Peak | undefined): uPlot.Plugin {
  const levels = spec.levels ?? [];
  const markers = spec.markers ?? [];
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          const css = (px: number) => px / devicePixelRatio;
          ctx.save();
          ctx.font = FONT.replace("11px", `${11 * devicePixelRatio}px`);
          const layout = new LabelLayout(ctx, css(u.ctx.canvas.width), css(u.ctx.canvas.height));
          const top = css(bbox.top);
          const bottom = css(bbox.top + bbox.height);
          const right = css(bbox.left + bbox.width);
          if (peak) {
            layout.place(
              [
                `peak ${format(peak.value)} at ${time(peak.at)}, above the scale`,
                `peak ${format(peak.value)}, above the scale`,
                `peak ${format(peak.value)} ↑`,
              ],
              css(bbox.left) + 4,
              [top + 2],
              "left",
              "#475569",
            );
          }
          // Lowest level first, so the alert level above the target gets the room above its line.
          for (const level of [...levels].sort((a, b) => a.value - b.value)) {
            const y = u.valToPos(level.value, "y", true);
            if (y < bbox.top || y > bbox.top + bbox.height) continue;
            const color = level.kind === "alert" ? "#dc2626" : "#b45309";
            ctx.strokeStyle = color;
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(bbox.left, y);
            ctx.lineTo(bbox.left + bbox.width, y);
            ctx.stroke();
            const at = css(y);
            const candidates = [at - LABEL_HEIGHT - 1, at + 2, at - 2 * LABEL_HEIGHT - 2, at + LABEL_HEIGHT + 3];
            layout.place(`${level.label} ${format(level.value)}`, right - 4, candidates, "right", color);
          }
          for (const marker of [...markers].sort((a, b) => a.at - b.at)) {
            const x = u.valToPos(marker.at, "x", true);
            if (x < bbox.left || x > bbox.left + bbox.width) continue;
            const color = marker.bad ? "#dc2626" : "#64748b";
            ctx.strokeStyle = color;
            ctx.setLineDash([2, 3]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
            // Labels along the bottom, in up to two rows; one with no room keeps its line (its name is in the legend's tooltip).
            layout.place(marker.label, css(x) + 3, [bottom - LABEL_HEIGHT - 2, bottom - 2 * LABEL_HEIGHT - 3], "left", color);
          }
          ctx.restore();
          figure.dataset.labels = JSON.stringify(layout.boxes);
        },
      ],
    },
  };
}

const charts = new Set<uPlot>();

/** Destroys every chart drawn so far (a view is left). */
export function destroyCharts(): void {
  for (const chart of charts) chart.destroy();
  charts.clear();
}

/** The time axis's labels on the page's clock: hours, with the day under the first tick of each day; days alone past a day apart. */
function timeLabels(_u: uPlot, splits: number[], _axis: number, _space: number, increment: number): string[] {
  let shownDay = "";
  return splits.map((at) => {
    const { day, clock } = clockParts(at);
    if (increment >= 86_400) return day;
    const label = day === shownDay ? clock : `${clock}\n${day}`;
    shownDay = day;
    return label;
  });
}

/** The y axis as wide as its longest label, so none is cut off. */
function axisWidth(u: uPlot, values: string[] | null, axisIdx: number): number {
  const axis = u.axes[axisIdx];
  const tickSize = typeof axis?.ticks === "object" && typeof axis.ticks.size === "number" ? axis.ticks.size : 10;
  u.ctx.save();
  u.ctx.font = FONT.replace("11px", `${12 * devicePixelRatio}px`);
  const longest = Math.max(0, ...(values ?? []).map((value) => u.ctx.measureText(value).width / devicePixelRatio));
  u.ctx.restore();
  return Math.ceil(longest + tickSize + 12);
}

/** The values of every line, highest first. */
function highest(lines: Line[]): number[] {
  return lines
    .flatMap((line) => line.values)
    .filter((v): v is number => v !== null && Number.isFinite(v))
    .sort((a, b) => b - a);
}

/**
 * The peak to leave above the scale: when one spike is more than three times both the 95th
 * percentile and the highest level, it would flatten the rest (and the levels) against the axis.
 */
function peakAboveScale(spec: ChartSpec, maxLevel: number): Peak | undefined {
  const values = highest(spec.lines);
  const max = values[0];
  if (max === undefined || values.length < 20 || maxLevel <= 0) return undefined;
  const p95 = values[Math.floor(values.length * 0.05)] ?? max;
  if (max <= 3 * Math.max(p95, maxLevel)) return undefined;
  for (const line of spec.lines) {
    const i = line.values.indexOf(max);
    if (i >= 0) return { value: max, at: spec.t[i] ?? 0 };
  }
  return undefined;
}

/** A chart of `spec` in a figure appended to `parent`, as wide as the parent. */
export function timeChart(parent: HTMLElement, spec: ChartSpec): void {
  const format = spec.format ?? ((value: number) => String(value));
  const axisFormat = spec.axisFormat ?? format;
  const figure = h("figure", { class: "chart", "data-chart": spec.title }, h("figcaption", {}, spec.title));
  parent.appendChild(figure);
  const maxLevel = Math.max(...(spec.levels ?? []).map((l) => l.value), 0);
  const peak = peakAboveScale(spec, maxLevel);
  const ceiling = peak ? Math.max(highest(spec.lines).find((v) => v < peak.value / 3) ?? 0, maxLevel) * 1.3 : undefined;
  const width = Math.max(280, figure.clientWidth || parent.clientWidth || 640);
  const last = spec.t.length - 1;
  let yAxis: { ticks: number[]; labels: string[] } = { ticks: [], labels: [] };
  const options: uPlot.Options = {
    width,
    height: spec.height ?? 200,
    tzDate: (at) => clockParts(at).date,
    series: [
      { label: `Time (${zoneName()})`, value: (_u: uPlot, at: number | null) => (at === null ? "–" : time(at)) },
      ...spec.lines.map((line, i) => {
        const points = line.values.filter((v) => v !== null).length;
        const sparse = points > 0 && points <= 60 && points < width / 25;
        return {
          label: line.label,
          stroke: PALETTE[i % PALETTE.length] ?? "#2563eb",
          width: 1.5,
          // A few points across a wide window (a daily backup's size): drawn as points joined over the gaps.
          ...(sparse ? { spanGaps: true, points: { show: true, size: 6 } } : {}),
          value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)),
        };
      }),
    ],
    scales: {
      x: { time: true, ...(spec.range ? { range: () => spec.range as [number, number] } : {}) },
      // The levels stay in view even while the figure is far below them; a lone spike is left above the scale.
      y: { range: (_u, min, max) => [Math.min(0, min ?? 0), ceiling ?? Math.max(max ?? 0, maxLevel * 1.1, 1e-9) * 1.05] },
    },
    axes: [
      { values: timeLabels, space: 70 },
      {
        values: (_u, ticks) => {
          const labels = ticks.map(axisFormat);
          yAxis = { ticks, labels };
          return labels;
        },
        size: (u, values, axisIdx) => axisWidth(u, values, axisIdx),
      },
    ],
    plugins: [annotations(spec, format, figure, peak)],
    legend: { live: true },
    hooks: {
      // The legend shows the newest values until the pointer is over the chart, and again after.
      ready: [(u) => last >= 0 && u.setLegend({ idx: last })],
      setCursor: [(u) => u.cursor.idx == null && last >= 0 && u.setLegend({ idx: last }, false)],
      draw: [
        (u) => {
          const size = (u.axes[1] as { _size?: number } | undefined)?._size ?? null;
          figure.dataset.yAxis = JSON.stringify({ ...yAxis, width: size, fits: labelsFit(u, yAxis.labels) });
        },
      ],
    },
  };
  charts.add(new uPlot(options, [spec.t, ...spec.lines.map((line) => line.values)] as uPlot.AlignedData, figure));
}

/** Whether every y tick label fits in the axis's width (what was cut off before). */
function labelsFit(u: uPlot, labels: string[]): boolean {
  const axis = u.axes[1];
  // uPlot keeps the size it settled on (from the size function) as _size.
  const size = (axis as { _size?: number } | undefined)?._size;
  if (typeof size !== "number") return true;
  return axisWidth(u, labels, 1) <= size + 0.5;
}

/** A small line without axes, for a table cell. */
export function sparkline(t: number[], values: Array<number | null>, label: string): HTMLElement {
  const cell = h("span", { class: "sparkline", role: "img", "aria-label": label });
  const options: uPlot.Options = {
    width: 120,
    height: 28,
    pxAlign: false,
    cursor: { show: false },
    select: { show: false, left: 0, top: 0, width: 0, height: 0 },
    legend: { show: false },
    scales: { x: { time: false } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { stroke: "#2563eb", width: 1.2, fill: "rgba(37,99,235,0.12)" }],
  };
  // Drawn once the cell is in the page.
  queueMicrotask(() => charts.add(new uPlot(options, [t, values] as uPlot.AlignedData, cell)));
  return cell;
}
