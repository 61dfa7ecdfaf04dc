import type { ModelRef } from '../../core/records.js'

/**
 * A logistic model's parameters, as its ONNX graph holds them (training/export-onnx.ts): the score of a row x is
 * sigmoid(bias + Σ weights_j · (sign(x_j)·ln(1 + |x_j|) − mean_j) / scale_j).
 */
export interface LinearModel {
  readonly mean: Float64Array
  readonly scale: Float64Array
  readonly weights: Float64Array
  readonly bias: number
}

/** The cheap model tiered scoring starts with, and the band of scores it does not settle. */
export interface FirstTier {
  readonly model: ModelRef
  readonly linear: LinearModel
  /** Its own cut-offs (its manifest's): the decisions it settles are made with them. */
  readonly thresholds: { readonly review: number; readonly decline: number }
  /** A score below settles the transaction in tier 1 (an approval: approveBelow ≤ thresholds.review). */
  readonly approveBelow: number
  /** A score at or above settles it in tier 1 too (a decline); Infinity: tier 1 never declines. */
  readonly declineFrom: number
}

/**
 * Scores `count` rows of `width` features (row i at `rows[i].rows`, offset `rows[i].at`) with the first tier's model,
 * on the calling thread: a dot product per row, far cheaper than a hop to a worker and a tree ensemble. Scores are
 * rounded to float32, as a model served by onnxruntime gives them.
 */
export function firstTierScores(
  tier: FirstTier,
  rows: readonly { readonly rows: Float32Array; readonly at: number }[],
): Float32Array {
  const { mean, scale, weights, bias } = tier.linear
  const width = weights.length
  const out = new Float32Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const { rows: row, at } = rows[i]!
    let logit = bias
    for (let j = 0; j < width; j++) {
      const x = row[at + j]!
      logit += (weights[j]! * (Math.sign(x) * Math.log1p(Math.abs(x)) - mean[j]!)) / scale[j]!
    }
    out[i] = 1 / (1 + Math.exp(-logit))
  }
  return out
}

/** Whether tier 1 settles a transaction with this first-tier score. */
export function settledByFirstTier(tier: FirstTier, score: number): boolean {
  return score < tier.approveBelow || score >= tier.declineFrom
}
