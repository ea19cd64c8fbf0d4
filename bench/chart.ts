/**
 * latest.svg: the server's CPU time per request at each load, a bar for the
 * median round and a line from the lowest round to the highest.
 *
 * @module
 */

import type { Row } from "./analyse.ts";

const COLORS = [
  "#1f77b4",
  "#aec7e8",
  "#9467bd",
  "#ffbb78",
  "#ff7f0e",
  "#2ca02c",
  "#7f7f7f",
  "#d62728",
];

/** An SVG bar chart of CPU us per request, grouped by load. */
export function chart(rows: readonly Row[]): string {
  const names = [...new Set(rows.map((r) => r.server))];
  const loads = [...new Set(rows.map((r) => r.connections))].sort((a, b) =>
    a - b
  );
  const max = Math.ceil(
    Math.max(...rows.map((r) => r.figures.cpuUsPerRequest.max)) * 1.1 / 10,
  ) * 10;
  const width = 820, height = 360, left = 60, bottom = 40, top = 40;
  const groupWidth = (width - left - 20) / loads.length;
  const barWidth = groupWidth / (names.length + 1);
  const y = (v: number) => height - bottom - v / max * (height - bottom - top);
  const bars = rows.map((r) => {
    const g = loads.indexOf(r.connections);
    const i = names.indexOf(r.server);
    const x = left + g * groupWidth + (i + 0.5) * barWidth;
    const { median, min, max: high } = r.figures.cpuUsPerRequest;
    const middle = (x + (barWidth - 2) / 2).toFixed(1);
    return `<rect x="${x.toFixed(1)}" y="${y(median).toFixed(1)}" width="${
      (barWidth - 2).toFixed(1)
    }" height="${(height - bottom - y(median)).toFixed(1)}" fill="${
      COLORS[i % COLORS.length]
    }"><title>${r.server}, ${r.connections} connection${
      r.connections === 1 ? "" : "s"
    }: ${median.toFixed(1)} us (${min.toFixed(1)}–${
      high.toFixed(1)
    })</title></rect><line x1="${middle}" x2="${middle}" y1="${
      y(min).toFixed(1)
    }" y2="${y(high).toFixed(1)}" stroke="#333"/>`;
  });
  const labels = loads.map((c, g) =>
    `<text x="${(left + g * groupWidth + groupWidth / 2).toFixed(1)}" y="${
      height - 15
    }" text-anchor="middle">${c} connection${c > 1 ? "s" : ""}</text>`
  );
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((t) => {
    const v = max * t;
    return `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${
      v.toFixed(0)
    }</text><line x1="${left}" x2="${width - 20}" y1="${y(v)}" y2="${
      y(v)
    }" stroke="#ddd"/>`;
  });
  const step = (width - left) / names.length;
  const legend = names.map((name, i) =>
    `<rect x="${left + i * step}" y="8" width="10" height="10" fill="${
      COLORS[i % COLORS.length]
    }"/><text x="${left + i * step + 14}" y="17">${name}</text>`
  );
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">
<text x="12" y="${height / 2}" transform="rotate(-90 12 ${
    height / 2
  })" text-anchor="middle">server CPU us per request</text>
${ticks.join("\n")}
${bars.join("\n")}
${labels.join("\n")}
${legend.join("\n")}
</svg>
`;
}
