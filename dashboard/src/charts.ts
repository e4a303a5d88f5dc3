/** Time-series charts (uPlot): lines over the window, target and alert levels, deploy markers. */
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom.js";

const PALETTE = ["#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be123c", "#4d7c0f", "#a16207"];

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

/** Target and alert levels across the plot. */
function levelsPlugin(levels: Level[], format: (value: number) => string): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          for (const level of levels) {
            const y = u.valToPos(level.value, "y", true);
            if (y < bbox.top || y > bbox.top + bbox.height) continue;
            ctx.save();
            ctx.strokeStyle = level.kind === "alert" ? "#dc2626" : "#d97706";
            ctx.setLineDash([6, 4]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(bbox.left, y);
            ctx.lineTo(bbox.left + bbox.width, y);
            ctx.stroke();
            ctx.fillStyle = ctx.strokeStyle;
            ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
            ctx.textAlign = "right";
            ctx.textBaseline = "bottom";
            ctx.fillText(`${level.label} ${format(level.value)}`, bbox.left + bbox.width - 4 * devicePixelRatio, y - 2 * devicePixelRatio);
            ctx.restore();
          }
        },
      ],
    },
  };
}

/** Deploys (and regressions) as vertical lines on the time axis. */
function markersPlugin(markers: Marker[]): uPlot.Plugin {
  return {
    hooks: {
      draw: [
        (u) => {
          const { ctx, bbox } = u;
          for (const marker of markers) {
            const x = u.valToPos(marker.at, "x", true);
            if (x < bbox.left || x > bbox.left + bbox.width) continue;
            ctx.save();
            ctx.strokeStyle = marker.bad ? "#dc2626" : "#64748b";
            ctx.setLineDash([2, 3]);
            ctx.lineWidth = 1.5 * devicePixelRatio;
            ctx.beginPath();
            ctx.moveTo(x, bbox.top);
            ctx.lineTo(x, bbox.top + bbox.height);
            ctx.stroke();
            ctx.fillStyle = ctx.strokeStyle;
            ctx.font = `${10 * devicePixelRatio}px system-ui, sans-serif`;
            ctx.textAlign = "left";
            ctx.textBaseline = "top";
            ctx.fillText(marker.label, x + 3 * devicePixelRatio, bbox.top + 2 * devicePixelRatio);
            ctx.restore();
          }
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

/** A chart of `spec` in a figure appended to `parent`, as wide as the parent. */
export function timeChart(parent: HTMLElement, spec: ChartSpec): void {
  const format = spec.format ?? ((value: number) => String(value));
  const axisFormat = spec.axisFormat ?? format;
  const figure = h("figure", { class: "chart", "data-chart": spec.title }, h("figcaption", {}, spec.title));
  parent.appendChild(figure);
  const maxLevel = Math.max(...(spec.levels ?? []).map((l) => l.value), 0);
  const options: uPlot.Options = {
    width: Math.max(320, figure.clientWidth || parent.clientWidth || 640),
    height: spec.height ?? 200,
    series: [
      {},
      ...spec.lines.map((line, i) => ({
        label: line.label,
        stroke: PALETTE[i % PALETTE.length] ?? "#2563eb",
        width: 1.5,
        value: (_u: uPlot, v: number | null) => (v === null ? "–" : format(v)),
      })),
    ],
    scales: {
      x: { time: true, ...(spec.range ? { range: () => spec.range as [number, number] } : {}) },
      // The levels stay in view even while the figure is far below them.
      y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(max ?? 0, maxLevel * 1.1, 1e-9) * 1.05] },
    },
    axes: [{}, { values: (_u, ticks) => ticks.map(axisFormat), size: 64 }],
    plugins: [levelsPlugin(spec.levels ?? [], format), markersPlugin(spec.markers ?? [])],
    legend: { live: true },
  };
  charts.add(new uPlot(options, [spec.t, ...spec.lines.map((line) => line.values)] as uPlot.AlignedData, figure));
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
