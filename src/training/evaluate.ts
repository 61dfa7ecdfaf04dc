/** Ranking and threshold metrics for a scored holdout set. */
export interface Evaluation {
  readonly rows: number
  readonly positives: number
  readonly auc_pr: number
  readonly auc_roc: number
  readonly review_rate: number
  readonly decline_rate: number
  readonly recall_at_review: number
  readonly precision_at_review: number
  readonly recall_at_decline: number
  readonly precision_at_decline: number
}

export function evaluate(
  scores: readonly number[],
  labels: readonly boolean[],
  thresholds: { review: number; decline: number },
): Evaluation {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]!)
  const positives = labels.filter(Boolean).length
  const negatives = labels.length - positives
  // Average precision (the step-wise area under the precision-recall curve) and ROC AUC by rank.
  let tp = 0
  let fp = 0
  let ap = 0
  let rocArea = 0
  for (const i of order) {
    if (labels[i]) {
      tp++
      ap += tp / (tp + fp)
    } else {
      fp++
      rocArea += tp
    }
  }
  const at = (threshold: number) => {
    let flagged = 0
    let hits = 0
    scores.forEach((s, i) => {
      if (s >= threshold) {
        flagged++
        if (labels[i]) hits++
      }
    })
    return {
      rate: flagged / Math.max(1, scores.length),
      recall: hits / Math.max(1, positives),
      precision: flagged ? hits / flagged : 0,
    }
  }
  const review = at(thresholds.review)
  const decline = at(thresholds.decline)
  return {
    rows: scores.length,
    positives,
    auc_pr: positives ? ap / positives : 0,
    auc_roc: positives && negatives ? rocArea / (positives * negatives) : 0,
    review_rate: review.rate - decline.rate,
    decline_rate: decline.rate,
    recall_at_review: review.recall,
    precision_at_review: review.precision,
    recall_at_decline: decline.recall,
    precision_at_decline: decline.precision,
  }
}

/**
 * The share of positives scored above the threshold that flags `fpr` of the negatives: what a bank asks ("at 1 % of
 * good customers bothered, how much fraud do we stop").
 */
export function recallAtFpr(scores: ArrayLike<number>, labels: readonly boolean[], fpr: number): number {
  const negatives = labels
    .map((y, i) => (y ? NaN : scores[i]!))
    .filter((s) => !Number.isNaN(s))
    .sort((a, b) => b - a)
  const positives = labels.filter(Boolean).length
  if (positives === 0 || negatives.length === 0) return 0
  // Flag scores strictly above the negative at the allowed rank: ties with it are not flagged.
  const cut = negatives[Math.min(negatives.length - 1, Math.floor(fpr * negatives.length))]!
  let caught = 0
  labels.forEach((y, i) => {
    if (y && scores[i]! > cut) caught++
  })
  return caught / positives
}

/**
 * The share of fraud among the `k` highest scores (ties in input order): what a team that can look at k alerts finds.
 * Null when there are fewer than k rows, rather than a figure over fewer alerts than asked.
 */
export function precisionAtK(scores: ArrayLike<number>, labels: readonly boolean[], k: number): number | null {
  if (k < 1 || labels.length < k) return null
  const order = Array.from({ length: labels.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b)
  let hits = 0
  for (let i = 0; i < k; i++) if (labels[order[i]!]) hits++
  return hits / k
}
