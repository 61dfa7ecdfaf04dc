/**
 * Histogram binning (LightGBM, XGBoost's `hist`): each feature's values are cut at up to maxBins − 1 edges taken
 * from its distinct values (quantiles of a sample when there are more), and every row keeps a bin number per feature.
 * A split is then a choice among the edges, found by one pass over a histogram of the node's rows.
 *
 * | value            | bin                                   |
 * | ---------------- | ------------------------------------- |
 * | x < edges[0]     | 0                                     |
 * | edges[b−1] ≤ x < edges[b] | b                            |
 * | x ≥ last edge    | edges.length                          |
 *
 * So "bin ≤ b" is "x < edges[b]": the split a tree stores, and the one ONNX's BRANCH_LT evaluates. Edges are float32
 * (halfway between neighbouring distinct values, rounded), so the exported model compares exactly as training did.
 */
export interface Binned {
  /** Row-major bins: feature f of row i at i · features + f (a node's histogram reads its rows' bins in one run). */
  readonly bins: Uint8Array
  readonly rows: number
  readonly features: number
  /** Per feature, ascending float32 split points. */
  readonly edges: readonly Float32Array[]
}

export const MAX_BINS = 256

/** Edges per feature from up to `sampleRows` rows (evenly spaced: deterministic, no seed needed). */
export function binEdges(rows: readonly Float32Array[], maxBins = MAX_BINS, sampleRows = 100_000): Float32Array[] {
  const features = rows[0]?.length ?? 0
  const step = Math.max(1, Math.floor(rows.length / sampleRows))
  const sample = new Float64Array(Math.ceil(rows.length / step))
  const edges: Float32Array[] = []
  for (let f = 0; f < features; f++) {
    let m = 0
    for (let i = 0; i < rows.length; i += step) {
      const v = rows[i]![f]!
      if (!Number.isNaN(v)) sample[m++] = v
    }
    // A typed array sorts numerically in native code: 10× a comparator sort of a plain array.
    const values = sample.subarray(0, m).sort()
    let distinct = 0
    for (let i = 0; i < m && distinct <= maxBins; i++) if (i === 0 || values[i] !== values[i - 1]) distinct++
    const cuts: number[] = []
    if (distinct <= maxBins) {
      for (let i = 1; i < m; i++) if (values[i] !== values[i - 1]) cuts.push(midpoint(values[i - 1]!, values[i]!))
    } else {
      // Equal-count cuts: after the value at each k/maxBins quantile, moved past a run of equal values.
      for (let k = 1; k < maxBins; k++) {
        const below = values[Math.floor((k * m) / maxBins) - 1]!
        let next = Math.floor((k * m) / maxBins)
        while (next < m && values[next] === below) next++
        if (next >= m) break
        const cut = midpoint(below, values[next]!)
        if (cuts.length === 0 || cut > cuts[cuts.length - 1]!) cuts.push(cut)
      }
    }
    edges.push(Float32Array.from(cuts))
  }
  return edges
}

/** A float32 between a and b (a < b), strictly above a: a value equal to a bins below it, b at or above. */
function midpoint(a: number, b: number): number {
  const m = Math.fround((a + b) / 2)
  return m > a ? m : Math.fround(b)
}

export function binRows(rows: readonly Float32Array[], edges: readonly Float32Array[]): Binned {
  const n = rows.length
  const features = edges.length
  const bins = new Uint8Array(n * features)
  for (let i = 0; i < n; i++) {
    const row = rows[i]!
    for (let f = 0; f < features; f++) bins[i * features + f] = binOf(edges[f]!, row[f]!)
  }
  return { bins, rows: n, features, edges }
}

/** The number of edges at or below x (NaN: past every edge, as BRANCH_LT sends it right at every node). */
export function binOf(cuts: Float32Array, x: number): number {
  if (Number.isNaN(x)) return cuts.length
  let lo = 0
  let hi = cuts.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (x < cuts[mid]!) hi = mid
    else lo = mid + 1
  }
  return lo
}
