import { Random } from '../../generator/random.js'
import { binEdges, binRows, MAX_BINS, type Binned } from './binning.js'
import { leafOf, type GbdtModel, type Tree } from './trees.js'

/** XGBoost's names where there is one (eta = learningRate, lambda = l2, gamma = minSplitGain). */
export interface GbdtOptions {
  readonly rounds: number
  readonly learningRate: number
  readonly maxDepth: number
  /** Leaves per tree; 0: 2^maxDepth (every split a depth-wise tree would make). Trees grow best-first. */
  readonly maxLeaves: number
  /** Least hessian sum in a child (min_child_weight). */
  readonly minChildWeight: number
  readonly l2: number
  readonly minSplitGain: number
  /** Share of rows each tree sees, drawn per tree. */
  readonly subsample: number
  /** Share of features each tree may split on, drawn per tree. */
  readonly colsample: number
  /** Weight of a positive row (scale_pos_weight). */
  readonly scalePosWeight: number
  readonly maxBins: number
  /** Stop when validation AUC-PR has not improved for this many rounds (0: never); the best round is kept. */
  readonly earlyStoppingRounds: number
  readonly seed: number
}

export const defaultGbdtOptions: GbdtOptions = {
  rounds: 300,
  learningRate: 0.1,
  maxDepth: 6,
  maxLeaves: 0,
  minChildWeight: 1,
  l2: 1,
  minSplitGain: 0,
  subsample: 0.8,
  colsample: 0.8,
  scalePosWeight: 1,
  maxBins: MAX_BINS,
  earlyStoppingRounds: 30,
  seed: 1,
}

export interface LabelledRows {
  readonly rows: readonly Float32Array[]
  readonly labels: readonly boolean[]
}

export interface GbdtProgress {
  readonly round: number
  readonly rounds: number
  readonly validAucPr: number | undefined
  readonly bestRound: number
  readonly elapsedMs: number
  /** Left at this round's pace, to `rounds` (early stopping may end sooner). */
  readonly etaMs: number
}

export interface GbdtResult {
  readonly model: GbdtModel
  /** Rounds kept (the best validation round, or all without validation). */
  readonly bestRound: number
  readonly validAucPr: number | undefined
  readonly history: readonly { readonly round: number; readonly validAucPr: number | undefined }[]
}

/**
 * Histogram-based gradient boosting with logistic loss (XGBoost's `hist`, LightGBM's leaf-wise growth): per round,
 * gradients and hessians of every row, a tree grown best-first on the histograms of a row sample over a feature
 * sample, leaves at −G / (H + λ) times the learning rate. Deterministic for a seed.
 */
export function trainGbdt(
  train: LabelledRows,
  featureNames: readonly string[],
  options: Partial<GbdtOptions> = {},
  valid?: LabelledRows,
  onProgress?: (progress: GbdtProgress) => void,
): GbdtResult {
  const o = { ...defaultGbdtOptions, ...options }
  const binned = binRows(train.rows, binEdges(train.rows, o.maxBins))
  const n = binned.rows
  const random = new Random(o.seed)
  const weight = Float64Array.from(train.labels, (y) => (y ? o.scalePosWeight : 1))
  let positive = 0
  let negative = 0
  train.labels.forEach((y, i) => (y ? (positive += weight[i]!) : (negative += weight[i]!)))
  const baseMargin = positive > 0 && negative > 0 ? Math.log(positive / negative) : 0
  const margin = new Float64Array(n).fill(baseMargin)
  const g = new Float64Array(n)
  const h = new Float64Array(n)
  const validMargin = valid ? new Float64Array(valid.rows.length).fill(baseMargin) : undefined
  const trees: Tree[] = []
  const history: { round: number; validAucPr: number | undefined }[] = []
  let best = { round: 0, aucPr: -Infinity }
  const startedAt = performance.now()
  for (let round = 1; round <= o.rounds; round++) {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-margin[i]!))
      const y = train.labels[i] ? 1 : 0
      g[i] = (p - y) * weight[i]!
      h[i] = Math.max(p * (1 - p), 1e-16) * weight[i]!
    }
    const rows = sampleRows(n, o.subsample, random)
    const allowed = sampleFeatures(binned.features, o.colsample, random)
    const { tree, binThreshold, leafRanges } = growTree(binned, g, h, rows, allowed, o)
    trees.push(tree)
    // The sampled rows' leaves are known from the partition; the others walk the tree on their bins.
    const inBag = rows.length < n ? new Uint8Array(n) : undefined
    for (const { node, start, end } of leafRanges) {
      const v = tree.value[node]!
      for (let k = start; k < end; k++) {
        margin[rows[k]!]! += v
        if (inBag) inBag[rows[k]!] = 1
      }
    }
    if (inBag)
      for (let i = 0; i < n; i++) if (!inBag[i]) margin[i]! += tree.value[binnedLeaf(tree, binThreshold, binned, i)]!
    let validAucPr: number | undefined
    if (valid && validMargin) {
      valid.rows.forEach((row, i) => (validMargin[i]! += tree.value[leafOf(tree, row)]!))
      validAucPr = averagePrecision(validMargin, valid.labels)
      if (validAucPr > best.aucPr) best = { round, aucPr: validAucPr }
    } else best = { round, aucPr: NaN }
    history.push({ round, validAucPr })
    const elapsedMs = performance.now() - startedAt
    onProgress?.({
      round,
      rounds: o.rounds,
      validAucPr,
      bestRound: best.round,
      elapsedMs,
      etaMs: (elapsedMs / round) * (o.rounds - round),
    })
    if (valid && o.earlyStoppingRounds > 0 && round - best.round >= o.earlyStoppingRounds) break
  }
  return {
    model: { kind: 'gbdt', baseMargin, trees: trees.slice(0, best.round), featureNames },
    bestRound: best.round,
    validAucPr: valid ? best.aucPr : undefined,
    history,
  }
}

function sampleRows(n: number, share: number, random: Random): Uint32Array {
  if (share >= 1) return Uint32Array.from({ length: n }, (_, i) => i)
  const picked = new Uint32Array(n)
  let m = 0
  for (let i = 0; i < n; i++) if (random.next() < share) picked[m++] = i
  return picked.subarray(0, m)
}

function sampleFeatures(features: number, share: number, random: Random): Uint8Array {
  const allowed = new Uint8Array(features)
  const k = Math.max(1, Math.round(features * Math.min(1, share)))
  const order = Array.from({ length: features }, (_, f) => f)
  for (let i = features - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1))
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  for (let i = 0; i < k; i++) allowed[order[i]!] = 1
  return allowed
}

interface Split {
  readonly gain: number
  readonly feature: number
  readonly bin: number
  readonly leftG: number
  readonly leftH: number
}

interface Leaf {
  readonly node: number
  readonly start: number
  readonly end: number
  readonly depth: number
  readonly sumG: number
  readonly sumH: number
  readonly hist: Float64Array
  readonly split: Split | undefined
}

/** Grows one tree on `rows` (reordered in place, LightGBM's data partition); returns it with its split bins. */
function growTree(
  data: Binned,
  g: Float64Array,
  h: Float64Array,
  rows: Uint32Array,
  allowed: Uint8Array,
  o: GbdtOptions,
): { tree: Tree; binThreshold: Int32Array; leafRanges: readonly Leaf[] } {
  const maxLeaves = o.maxLeaves > 0 ? o.maxLeaves : 2 ** o.maxDepth
  const feature: number[] = []
  const threshold: number[] = []
  const binThreshold: number[] = []
  const left: number[] = []
  const right: number[] = []
  const value: number[] = []
  const cover: number[] = []
  const addNode = (sumG: number, sumH: number) => {
    feature.push(-1)
    threshold.push(0)
    binThreshold.push(-1)
    left.push(-1)
    right.push(-1)
    value.push((-sumG / (sumH + o.l2)) * o.learningRate)
    cover.push(sumH)
    return feature.length - 1
  }
  const leafOfRange = (node: number, start: number, end: number, depth: number, hist: Float64Array): Leaf => {
    let sumG = 0
    let sumH = 0
    // Any one feature's bins add up to the node's sums.
    for (let b = 0; b < MAX_BINS; b++) {
      sumG += hist[2 * b]!
      sumH += hist[2 * b + 1]!
    }
    const split = depth < o.maxDepth ? bestSplit(data, hist, sumG, sumH, allowed, o) : undefined
    return { node, start, end, depth, sumG, sumH, hist, split }
  }
  const rootHist = histogram(data, g, h, rows, 0, rows.length)
  const rootSums = leafOfRange(-1, 0, rows.length, 0, rootHist)
  const leaves: Leaf[] = [{ ...rootSums, node: addNode(rootSums.sumG, rootSums.sumH) }]
  while (leaves.length < maxLeaves) {
    let pick = -1
    for (let i = 0; i < leaves.length; i++) {
      const s = leaves[i]!.split
      if (s && s.gain > o.minSplitGain && (pick < 0 || s.gain > leaves[pick]!.split!.gain)) pick = i
    }
    if (pick < 0) break
    const leaf = leaves[pick]!
    const split = leaf.split!
    const mid = partition(data, rows, leaf.start, leaf.end, split.feature, split.bin)
    const leftNode = addNode(split.leftG, split.leftH)
    const rightNode = addNode(leaf.sumG - split.leftG, leaf.sumH - split.leftH)
    feature[leaf.node] = split.feature
    threshold[leaf.node] = data.edges[split.feature]![split.bin]!
    binThreshold[leaf.node] = split.bin
    left[leaf.node] = leftNode
    right[leaf.node] = rightNode
    value[leaf.node] = 0
    // The smaller child's histogram by a pass over its rows, the larger one's by subtraction from the parent's.
    const leftSmaller = mid - leaf.start <= leaf.end - mid
    const small = leftSmaller
      ? histogram(data, g, h, rows, leaf.start, mid)
      : histogram(data, g, h, rows, mid, leaf.end)
    const large = leaf.hist
    for (let k = 0; k < large.length; k++) large[k]! -= small[k]!
    const [leftHist, rightHist] = leftSmaller ? [small, large] : [large, small]
    leaves.splice(
      pick,
      1,
      leafOfRange(leftNode, leaf.start, mid, leaf.depth + 1, leftHist),
      leafOfRange(rightNode, mid, leaf.end, leaf.depth + 1, rightHist),
    )
  }
  return {
    tree: {
      feature: Int32Array.from(feature),
      threshold: Float32Array.from(threshold),
      left: Int32Array.from(left),
      right: Int32Array.from(right),
      value: Float64Array.from(value),
      cover: Float64Array.from(cover),
    },
    binThreshold: Int32Array.from(binThreshold),
    leafRanges: leaves,
  }
}

/** Per feature and bin, the sums of g and h over rows[start, end): [g, h] at (feature · MAX_BINS + bin) · 2. */
function histogram(
  data: Binned,
  g: Float64Array,
  h: Float64Array,
  rows: Uint32Array,
  start: number,
  end: number,
): Float64Array {
  const { bins, features } = data
  const hist = new Float64Array(features * MAX_BINS * 2)
  for (let k = start; k < end; k++) {
    const i = rows[k]!
    const gi = g[i]!
    const hi = h[i]!
    const at = i * features
    // (f · MAX_BINS + bin) · 2 as shifts: MAX_BINS is 2^8.
    for (let f = 0; f < features; f++) {
      const slot = (f << 9) | (bins[at + f]! << 1)
      hist[slot]! += gi
      hist[slot + 1]! += hi
    }
  }
  return hist
}

function bestSplit(
  data: Binned,
  hist: Float64Array,
  sumG: number,
  sumH: number,
  allowed: Uint8Array,
  o: GbdtOptions,
): Split | undefined {
  const parentScore = (sumG * sumG) / (sumH + o.l2)
  let best: Split | undefined
  for (let f = 0; f < data.features; f++) {
    if (!allowed[f]) continue
    const cuts = data.edges[f]!.length
    let leftG = 0
    let leftH = 0
    for (let b = 0; b < cuts; b++) {
      const slot = (f * MAX_BINS + b) * 2
      leftG += hist[slot]!
      leftH += hist[slot + 1]!
      const rightH = sumH - leftH
      if (leftH < o.minChildWeight) continue
      if (rightH < o.minChildWeight) break
      const rightG = sumG - leftG
      const gain = (leftG * leftG) / (leftH + o.l2) + (rightG * rightG) / (rightH + o.l2) - parentScore
      if (!best || gain > best.gain) best = { gain, feature: f, bin: b, leftG, leftH }
    }
  }
  return best
}

/** Reorders rows[start, end) so those with bin ≤ `bin` on `feature` come first; returns where the rest start. */
function partition(data: Binned, rows: Uint32Array, start: number, end: number, feature: number, bin: number): number {
  const { bins, features } = data
  let lo = start
  let hi = end - 1
  while (lo <= hi) {
    if (bins[rows[lo]! * features + feature]! <= bin) lo++
    else {
      const t = rows[lo]!
      rows[lo] = rows[hi]!
      rows[hi--] = t
    }
  }
  return lo
}

function binnedLeaf(tree: Tree, binThreshold: Int32Array, data: Binned, row: number): number {
  let node = 0
  const at = row * data.features
  while (tree.feature[node]! >= 0) {
    node = data.bins[at + tree.feature[node]!]! <= binThreshold[node]! ? tree.left[node]! : tree.right[node]!
  }
  return node
}

/** Average precision (step-wise area under the precision-recall curve), as `evaluate` computes AUC-PR. */
export function averagePrecision(scores: ArrayLike<number>, labels: readonly boolean[]): number {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!)
  let tp = 0
  let fp = 0
  let ap = 0
  for (const i of order) {
    if (labels[i]) ap += ++tp / (tp + fp)
    else fp++
  }
  return tp > 0 ? ap / tp : 0
}
