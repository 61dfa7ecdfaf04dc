import { decisionAt } from '../stages/decide/decide.js'
/** Scored transactions with their amounts: what a threshold pair costs depends on which frauds it lets through. */
export interface CostedRows {
  readonly scores: ArrayLike<number>
  readonly labels: readonly boolean[]
  readonly amounts: ArrayLike<number>
}

export interface Thresholds {
  readonly review: number
  readonly decline: number
}

/**
 * What each outcome costs, in the transactions' amount unit. A fraud approved costs its amount; a review costs
 * `reviewCost` whatever it finds (an analyst's time; a reviewed fraud is stopped); a legitimate transaction declined
 * costs `declineCost` (a lost sale and an annoyed customer); a declined fraud and an approved legitimate one cost 0.
 */
export interface CostModel {
  readonly reviewCost: number
  readonly declineCost: number
}

/** approve / review / decline counts of frauds and of legitimate transactions at a threshold pair. */
export interface ConfusionMatrix {
  readonly fraud: { readonly approve: number; readonly review: number; readonly decline: number }
  readonly legitimate: { readonly approve: number; readonly review: number; readonly decline: number }
}

export interface CostBreakdown {
  readonly total: number
  readonly missed_frauds: number
  readonly missed_fraud_amount: number
  readonly reviews: number
  readonly review_cost: number
  readonly false_declines: number
  readonly false_decline_cost: number
}

/** The decision the stream takes for a score. */
const outcomeOf = decisionAt

export function confusionAt(rows: Pick<CostedRows, 'scores' | 'labels'>, thresholds: Thresholds): ConfusionMatrix {
  const fraud = { approve: 0, review: 0, decline: 0 }
  const legitimate = { approve: 0, review: 0, decline: 0 }
  for (let i = 0; i < rows.labels.length; i++)
    (rows.labels[i] ? fraud : legitimate)[outcomeOf(rows.scores[i]!, thresholds)]++
  return { fraud, legitimate }
}

/** The total cost of deciding `rows` at `thresholds`, and its parts. */
export function costAt(rows: CostedRows, thresholds: Thresholds, model: CostModel): CostBreakdown {
  let missedFrauds = 0
  let missedAmount = 0
  let reviews = 0
  let falseDeclines = 0
  for (let i = 0; i < rows.labels.length; i++) {
    const outcome = outcomeOf(rows.scores[i]!, thresholds)
    if (outcome === 'review') reviews++
    else if (outcome === 'approve' && rows.labels[i]) {
      missedFrauds++
      missedAmount += rows.amounts[i]!
    } else if (outcome === 'decline' && !rows.labels[i]) falseDeclines++
  }
  const reviewCost = reviews * model.reviewCost
  const declineCost = falseDeclines * model.declineCost
  return {
    total: missedAmount + reviewCost + declineCost,
    missed_frauds: missedFrauds,
    missed_fraud_amount: missedAmount,
    reviews,
    review_cost: reviewCost,
    false_declines: falseDeclines,
    false_decline_cost: declineCost,
  }
}

/** Thresholds are searched on a grid of 1/GRID_STEPS: 0.00, 0.01, …, 1.00, values an operator can read and set. */
export const GRID_STEPS = 100

/**
 * The (review, decline) pair on the grid, review ≤ decline, that costs least on `rows`. The cost splits into a part
 * of the review threshold and a part of the decline threshold:
 *
 *   cost(r, d) = [missed amount(r) + reviewCost · #(score ≥ r)] + [declineCost · #legit(score ≥ d) − reviewCost · #(score ≥ d)]
 *
 * since the reviews are #(score ≥ r) − #(score ≥ d). So the best r for each d is the best of the first part up to d (a
 * running minimum), and the search is linear in the grid after one sort. Ties go to the higher thresholds (fewer
 * actions for the same cost).
 */
export function tuneThresholds(
  rows: CostedRows,
  model: CostModel,
): { readonly thresholds: Thresholds; readonly cost: CostBreakdown } {
  const n = rows.labels.length
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => rows.scores[b]! - rows.scores[a]!)
  let fraudAmount = 0
  for (let i = 0; i < n; i++) if (rows.labels[i]) fraudAmount += rows.amounts[i]!
  // At or above each grid threshold (swept from the top, comparing scores as the decider does): rows, legitimate
  // rows and fraud amount.
  const atLeast = new Float64Array(GRID_STEPS + 1)
  const legitAtLeast = new Float64Array(GRID_STEPS + 1)
  const fraudAmountAtLeast = new Float64Array(GRID_STEPS + 1)
  let p = 0
  let count = 0
  let legit = 0
  let amount = 0
  for (let j = GRID_STEPS; j >= 0; j--) {
    const t = j / GRID_STEPS
    for (; p < n && rows.scores[order[p]!]! >= t; p++) {
      const i = order[p]!
      count++
      if (rows.labels[i]) amount += rows.amounts[i]!
      else legit++
    }
    atLeast[j] = count
    legitAtLeast[j] = legit
    fraudAmountAtLeast[j] = amount
  }
  const reviewPart = (j: number) => fraudAmount - fraudAmountAtLeast[j]! + model.reviewCost * atLeast[j]!
  const declinePart = (j: number) => model.declineCost * legitAtLeast[j]! - model.reviewCost * atLeast[j]!
  // bestReview[d]: the review threshold ≤ d with the least review part; `<=` lets a later (higher) one win ties.
  const bestReview = new Int32Array(GRID_STEPS + 1)
  for (let j = 0, best = 0; j <= GRID_STEPS; j++) {
    if (!isBelow(reviewPart(best), reviewPart(j))) best = j
    bestReview[j] = best
  }
  let bestDecline = GRID_STEPS
  let bestCost = Infinity
  for (let d = GRID_STEPS; d >= 0; d--) {
    const cost = reviewPart(bestReview[d]!) + declinePart(d)
    if (isBelow(cost, bestCost)) {
      bestCost = cost
      bestDecline = d
    }
  }
  const thresholds = { review: bestReview[bestDecline]! / GRID_STEPS, decline: bestDecline / GRID_STEPS }
  return { thresholds, cost: costAt(rows, thresholds, model) }
}

/** a < b beyond rounding: sums of the same amounts in another order must tie, not flip the choice. */
function isBelow(a: number, b: number): boolean {
  return a < b - 1e-9 * Math.max(1, Math.abs(a), Math.abs(b === Infinity ? 0 : b))
}
