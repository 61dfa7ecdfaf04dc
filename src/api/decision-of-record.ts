import type { Decision, DecisionV1, ModelRef } from '../core/records.js'

/** What the stream decided for a transaction: from Decision v1, or from its row in `scores`. */
export interface DecisionOfRecord {
  readonly decision: Decision
  readonly score: number
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
  readonly model: ModelRef
}

export function recordOf(decision: DecisionV1): DecisionOfRecord {
  return {
    decision: decision.decision,
    score: decision.score,
    reasons: decision.reasons,
    rules: decision.rules,
    model: decision.model,
  }
}
