import { Decision } from '../../core/records.js'

export interface Thresholds {
  /** score ≥ review → review (unless ≥ decline). */
  readonly review: number
  /** score ≥ decline → decline and an immediate alert. */
  readonly decline: number
}

export interface DecisionOutcome {
  readonly decision: Decision
  /** Why the score is high, from the features the model saw; empty for approvals. */
  readonly reasons: readonly string[]
  /** Rules that forced or shaped the decision; every forced decision names its rule here. */
  readonly rules: readonly string[]
}

/** Reason codes: a feature crossing a level explains part of a high score. Names are stable API for analysts. */
const REASONS: readonly {
  readonly code: string
  readonly feature: string
  readonly atLeast?: number
  readonly atMost?: number
}[] = [
  { code: 'velocity_1h', feature: 'card_count_1h', atLeast: 4 },
  { code: 'velocity_24h', feature: 'card_count_24h', atLeast: 10 },
  { code: 'amount_above_card_mean', feature: 'card_amount_over_mean_7d', atLeast: 3 },
  { code: 'rapid_succession', feature: 'card_seconds_since_last', atMost: 600 },
  { code: 'abroad', feature: 'is_abroad', atLeast: 1 },
  { code: 'night', feature: 'is_night', atLeast: 1 },
  { code: 'card_not_present', feature: 'is_card_not_present', atLeast: 1 },
  { code: 'zero_amount_probe', feature: 'is_zero_amount', atLeast: 1 },
]

/** The decision a score gets at these cut-offs: decline ≥ decline, else review ≥ review, else approve. */
export function decisionAt(score: number, cut: Thresholds): Decision {
  return score >= cut.decline ? Decision.decline : score >= cut.review ? Decision.review : Decision.approve
}

/**
 * score + feature row (at `rowAt` of `row`) → approve | review | decline with reason codes. Seed thresholds:
 * < 0.40 approve, 0.40–0.70 review, ≥ 0.70 decline; `cut` overrides them per call (each model has its own).
 */
export function createDecider(thresholds: Thresholds, featureNames: readonly string[]) {
  const reasonColumns = REASONS.map((r) => ({ ...r, column: featureNames.indexOf(r.feature) })).filter(
    (r) => r.column >= 0,
  )
  return function decide(score: number, row: Float32Array, rowAt = 0, cut: Thresholds = thresholds): DecisionOutcome {
    const decision = decisionAt(score, cut)
    if (decision === Decision.approve) return { decision, reasons: [], rules: [] }
    const reasons: string[] = []
    for (const r of reasonColumns) {
      const value = row[rowAt + r.column]!
      if ((r.atLeast !== undefined && value >= r.atLeast) || (r.atMost !== undefined && value <= r.atMost))
        reasons.push(r.code)
    }
    if (reasons.length === 0) reasons.push('model_score')
    return { decision, reasons, rules: [] }
  }
}
export type Decide = ReturnType<typeof createDecider>
