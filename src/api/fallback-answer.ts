import type { Decision } from '../core/records.js'
import type { Transaction } from '../core/transaction-v1.js'
import { createFallbackDecider, type FallbackRule } from '../stages/decide/fallback-rules.js'
import { deriveOf } from '../stages/features/derived-features.js'
import type { FeatureDefinition } from '../stages/features/feature-definition.js'

export interface FallbackAnswer {
  readonly decision: Decision
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
}

/** The rule name a deadline answer carries first: the stream's own decision of the transaction follows later. */
export const DEADLINE_RULE = 'fallback:deadline'

/**
 * The fallback rules on what the transaction alone says, for a request whose stream decision missed the API deadline.
 * The API holds no window or lookup state (the partition's owner does), so those features are NaN here, which no rule
 * fires on: the rules on derived features (a zero-amount probe) still apply, the velocity rules cannot.
 *
 * | transaction         | default rules fired            | decision |
 * | ------------------- | ------------------------------ | -------- |
 * | amount 0            | fallback:is_zero_amount>=1     | review   |
 * | amount 12.5         | none                           | approve  |
 */
export function createFallbackAnswer(
  features: readonly FeatureDefinition[],
  rules: readonly FallbackRule[],
): (tx: Transaction) => FallbackAnswer {
  const names = features.map((f) => f.name)
  const decide = createFallbackDecider(rules, names)
  const derived = features.flatMap((f, column) => (f.kind === 'derived' ? [{ column, value: deriveOf(f) }] : []))
  return (tx) => {
    const row = new Float32Array(names.length).fill(Number.NaN)
    for (const { column, value } of derived) row[column] = value(tx)
    const outcome = decide('deadline', row)
    return { decision: outcome.decision, reasons: outcome.reasons, rules: [DEADLINE_RULE, ...outcome.rules] }
  }
}
