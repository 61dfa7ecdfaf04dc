import type { GbdtModel, Tree } from './trees.js'

/**
 * Path contributions (Saabas) of a tree ensemble, in margin (log-odds) space. A node's expected value E is the
 * cover-weighted mean of the leaf values below it; walking a row's path, each split moves the expectation from
 * E[node] to E[child], and that step is credited to the split's feature. Per tree the steps telescope from E[root]
 * to the leaf value, so for every row:
 *
 *   Σ_j contribution_j + bias = margin,   bias = baseMargin + Σ_trees E[root]
 *
 * Worked example (one tree, base margin 0): the root splits on x0 with cover 30; its left child is a leaf (value −1,
 * cover 10); its right child splits on x1 with cover 20 into leaves +1 (cover 15) and +3 (cover 5).
 *
 * | node | E |
 * | --- | --- |
 * | right child | (15·1 + 5·3) / 20 = 1.5 |
 * | root | (10·(−1) + 20·1.5) / 30 = 2/3 |
 *
 * A row reaching the +3 leaf gets x0: 1.5 − 2/3 = 5/6, x1: 3 − 1.5 = 1.5, bias 2/3; they add up to 3.
 */

/** E[node] for every node of a tree. */
export function expectedValues(tree: Tree): Float64Array {
  const expected = new Float64Array(tree.feature.length)
  // Children come after their parent in pre-order, so the reversed pre-order sees both children of a split first.
  for (const node of preOrder(tree).reverse()) {
    if (tree.feature[node]! < 0) {
      expected[node] = tree.value[node]!
      continue
    }
    const [l, r] = [tree.left[node]!, tree.right[node]!]
    const [coverL, coverR] = [tree.cover[l]!, tree.cover[r]!]
    // A split whose children saw no hessian (possible only with min child weight 0) weighs them alike.
    expected[node] =
      coverL + coverR > 0
        ? (coverL * expected[l]! + coverR * expected[r]!) / (coverL + coverR)
        : (expected[l]! + expected[r]!) / 2
  }
  return expected
}

/** The bias column: the ensemble's expected margin before any feature is seen. */
export function gbdtBias(model: GbdtModel): number {
  let bias = model.baseMargin
  for (const tree of model.trees) bias += expectedValues(tree)[0]!
  return bias
}

/** One leaf's fixed contribution vector: the features split on along its path and what each step added. */
export interface LeafContribution {
  readonly leaf: number
  /** Distinct features of the path, in first-split order; steps on a repeated feature are summed. */
  readonly features: readonly number[]
  readonly values: readonly number[]
}

/** Every leaf's contribution vector, in node order: the ONNX export emits these as leaf weights. */
export function leafContributions(tree: Tree, expected: Float64Array = expectedValues(tree)): LeafContribution[] {
  const out: LeafContribution[] = []
  const walk = (node: number, path: Map<number, number>) => {
    const feature = tree.feature[node]!
    if (feature < 0) {
      out.push({ leaf: node, features: [...path.keys()], values: [...path.values()] })
      return
    }
    for (const child of [tree.left[node]!, tree.right[node]!]) {
      const next = new Map(path)
      next.set(feature, (next.get(feature) ?? 0) + expected[child]! - expected[node]!)
      walk(child, next)
    }
  }
  walk(0, new Map())
  return out.sort((a, b) => a.leaf - b.leaf)
}

/**
 * A row's contributions: F entries (feature j's share of the margin) then the bias, length F + 1, summing to
 * `marginOf(model, row)`. The TypeScript twin of the ONNX `contributions` output, for tests and reports.
 *
 * @example
 *   const c = gbdtContributions(model, row)
 *   const strongest = model.featureNames.map((name, j) => ({ name, value: c[j]! }))
 *     .sort((a, b) => Math.abs(b.value) - Math.abs(a.value)).slice(0, 3)
 */
export function gbdtContributions(
  model: GbdtModel,
  row: ArrayLike<number>,
  expected: readonly Float64Array[] = model.trees.map(expectedValues),
): Float64Array {
  const width = model.featureNames.length
  const out = new Float64Array(width + 1)
  out[width] = model.baseMargin
  model.trees.forEach((tree, t) => {
    const e = expected[t]!
    let node = 0
    out[width]! += e[0]!
    while (tree.feature[node]! >= 0) {
      const feature = tree.feature[node]!
      const child = row[feature]! < tree.threshold[node]! ? tree.left[node]! : tree.right[node]!
      out[feature]! += e[child]! - e[node]!
      node = child
    }
  })
  return out
}

function preOrder(tree: Tree): number[] {
  const order: number[] = []
  const stack = [0]
  while (stack.length) {
    const node = stack.pop()!
    order.push(node)
    if (tree.feature[node]! >= 0) stack.push(tree.right[node]!, tree.left[node]!)
  }
  return order
}
