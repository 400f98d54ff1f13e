// The price chart of one pair (vendored uPlot): price, entry and the two stop levels.

import { $ } from "./dom.js";

const HISTORY = 2000;
const history = new Map(); // pair -> {t: [], p: []}

export function recordPrices(prices) {
  const now = Date.now() / 1000;
  for (const { pair, price } of prices) {
    if (price === null) continue;
    const series = history.get(pair) || { t: [], p: [] };
    const value = Number(price); // for drawing only: money stays a string everywhere else
    if (series.p.length && series.p[series.p.length - 1] === value && now - series.t[series.t.length - 1] < 5) {
      continue;
    }
    series.t.push(now);
    series.p.push(value);
    if (series.t.length > HISTORY) {
      series.t.shift();
      series.p.shift();
    }
    history.set(pair, series);
  }
}

let plot = null;
let plotPair = null;

function level(value, length) {
  const number = value === null || value === undefined ? null : Number(value);
  return new Array(length).fill(number);
}

export function drawChart(pair, position) {
  const series = history.get(pair) || { t: [], p: [] };
  const n = series.t.length;
  const data = [
    series.t.slice(),
    series.p.slice(),
    level(position && position.entry_price, n),
    level(position && position.desired_stop, n),
    level(position && position.confirmed_stop, n),
  ];
  const container = $("chart");
  const width = Math.max(280, container.clientWidth || 600);
  if (!plot || plotPair !== pair || typeof uPlot === "undefined") {
    if (typeof uPlot === "undefined") return;
    if (plot) plot.destroy();
    container.replaceChildren();
    plot = new uPlot(
      {
        width,
        height: 300,
        scales: { x: { time: true } },
        axes: [{}, { size: 80, values: (u, values) => values.map((v) => v.toPrecision(6)) }],
        legend: { show: false },
        series: [
          {},
          { label: "price", stroke: "#2563eb", width: 2 },
          { label: "entry", stroke: "#16a34a", dash: [6, 4] },
          { label: "stop", stroke: "#dc2626", dash: [4, 4] },
          { label: "stop on exchange", stroke: "#991b1b" },
        ],
      },
      data,
      container,
    );
    plotPair = pair;
    container.dataset.points = String(n);
    return;
  }
  if (plot.width !== width) plot.setSize({ width, height: 300 });
  plot.setData(data);
  container.dataset.points = String(n);
}

export function dropChart() {
  if (plot) plot.destroy();
  plot = null;
  plotPair = null;
}
