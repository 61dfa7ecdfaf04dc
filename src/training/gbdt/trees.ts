/**
 * A trained gradient-boosted tree ensemble for binary classification: margin = baseMargin + Σ tree leaf values,
 * probability = sigmoid(margin). Nodes of a tree are stored in arrays; a split node sends a row left when
 * `row[feature] < threshold` (float32, ONNX's BRANCH_LT: a NaN goes right), a leaf has feature −1.
 */
export interface Tree {
  readonly feature: Int32Array
  readonly threshold: Float32Array
  readonly left: Int32Array
  readonly right: Int32Array
  /** A leaf's contribution to the margin (learning rate applied); 0 on split nodes. */
  readonly value: Float64Array
  /** Hessian sum of the training rows that reached each node: path contributions weigh subtrees by it. */
  readonly cover: Float64Array
}

export interface GbdtModel {
  readonly kind: 'gbdt'
  readonly baseMargin: number
  readonly trees: readonly Tree[]
  readonly featureNames: readonly string[]
}

/** The leaf a row reaches in one tree. */
export function leafOf(tree: Tree, row: ArrayLike<number>): number {
  let node = 0
  while (tree.feature[node]! >= 0) {
    node = row[tree.feature[node]!]! < tree.threshold[node]! ? tree.left[node]! : tree.right[node]!
  }
  return node
}

export function marginOf(model: GbdtModel, row: ArrayLike<number>): number {
  let margin = model.baseMargin
  for (const tree of model.trees) margin += tree.value[leafOf(tree, row)]!
  return margin
}

export function sigmoid(margin: number): number {
  return 1 / (1 + Math.exp(-margin))
}

export function predictGbdt(model: GbdtModel, row: ArrayLike<number>): number {
  return sigmoid(marginOf(model, row))
}

/** A model as JSON-safe arrays (for a package's model.json) and back. */
export function gbdtToJson(model: GbdtModel): unknown {
  return {
    kind: model.kind,
    baseMargin: model.baseMargin,
    featureNames: model.featureNames,
    trees: model.trees.map((t) => ({
      feature: [...t.feature],
      threshold: [...t.threshold],
      left: [...t.left],
      right: [...t.right],
      value: [...t.value],
      cover: [...t.cover],
    })),
  }
}

export function gbdtFromJson(json: {
  baseMargin: number
  featureNames: string[]
  trees: Record<keyof Tree, number[]>[]
}): GbdtModel {
  return {
    kind: 'gbdt',
    baseMargin: json.baseMargin,
    featureNames: json.featureNames,
    trees: json.trees.map((t) => ({
      feature: Int32Array.from(t.feature),
      threshold: Float32Array.from(t.threshold),
      left: Int32Array.from(t.left),
      right: Int32Array.from(t.right),
      value: Float64Array.from(t.value),
      cover: Float64Array.from(t.cover),
    })),
  }
}
