// The statistics of the fabric view's colours: the bottleneck module's robust method (bottleneck/bottleneck.h),
// per column over every switch of one generation: median, MAD' = max(MAD, 1 % of |median|, 0.001), and the
// modified z 0.6745 (x - median) / MAD'. |z| >= 3.5 is what the module flags.

function median(sorted) {
  const n = sorted.length;
  if (n === 0) return NaN;
  return n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

// values: numbers (others ignored) -> { median, mad } (mad already floored).
export function robust(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  const med = median(v);
  const dev = v.map((x) => Math.abs(x - med)).sort((a, b) => a - b);
  const mad = Math.max(median(dev) || 0, Math.abs(med) * 0.01, 0.001);
  return { median: med, mad };
}

export function zscore(x, s) {
  if (typeof x !== "number" || !Number.isFinite(x) || !Number.isFinite(s.median)) return 0;
  return (0.6745 * (x - s.median)) / s.mad;
}

// A cell's class for |z|: 2 .. 3.5 mild, 3.5 .. 10 flagged, beyond strong; h above the median, l below.
export function zclass(z) {
  const a = Math.abs(z);
  if (a < 2) return "";
  const level = a < 3.5 ? 1 : a < 10 ? 2 : 3;
  return `z${level}${z > 0 ? "h" : "l"}`;
}
