import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import { Decision } from '../../core/records.js'
import type { DecisionOutcome } from './decide.js'

/** A fallback rule: a feature at or past a level asks for a decision; the strictest rule that fires wins. */
export interface FallbackRule {
  readonly feature: string
  readonly atLeast?: number
  readonly atMost?: number
  readonly decision: 'review' | 'decline'
}

const SEVERITY = { approve: 0, review: 1, decline: 2 } as const

/** The rules used when infer.fallback.rules is unset, each where the feature set computes its feature. */
export const DEFAULT_FALLBACK_RULES: readonly FallbackRule[] = [
  { feature: 'card_count_1h', atLeast: 6, decision: 'decline' },
  { feature: 'card_count_1h', atLeast: 4, decision: 'review' },
  { feature: 'card_amount_over_mean_7d', atLeast: 5, decision: 'review' },
  { feature: 'is_zero_amount', atLeast: 1, decision: 'review' },
]

/** The configured rules, or the defaults whose features the feature set has. */
export function fallbackRulesOf(
  configured: readonly FallbackRule[] | undefined,
  featureNames: readonly string[],
): readonly FallbackRule[] {
  return configured ?? DEFAULT_FALLBACK_RULES.filter((rule) => featureNames.includes(rule.feature))
}

/**
 * Decides without a model, for batches whose inference failed or missed its deadline. Every rule that fires is named
 * in `rules` (`fallback:<feature>>=<level>`); the reasons say it was a fallback and why.
 *
 * | rules fired                                  | decision |
 * | -------------------------------------------- | -------- |
 * | none                                         | approve  |
 * | card_count_1h>=4 (review)                    | review   |
 * | card_count_1h>=4 (review), >=6 (decline)     | decline  |
 */
export function createFallbackDecider(rules: readonly FallbackRule[], featureNames: readonly string[]) {
  const compiled = rules.map((rule) => {
    const column = featureNames.indexOf(rule.feature)
    if (column < 0)
      throw new FraudstreamError(
        ErrorCode.configInvalid,
        `infer.fallback.rules names feature "${rule.feature}", which the feature set does not compute (it has ${featureNames.join(', ')})`,
        'input',
      )
    if (rule.atLeast === undefined && rule.atMost === undefined)
      throw new FraudstreamError(
        ErrorCode.configInvalid,
        `infer.fallback.rules: the rule on ${rule.feature} needs atLeast or atMost`,
        'input',
      )
    const name = `fallback:${rule.feature}${rule.atLeast !== undefined ? `>=${rule.atLeast}` : ''}${rule.atMost !== undefined ? `<=${rule.atMost}` : ''}`
    return { ...rule, column, name }
  })
  return function decideFallback(reason: string, row: Float32Array, rowAt = 0): DecisionOutcome {
    let decision: Decision = Decision.approve
    const fired: string[] = []
    for (const rule of compiled) {
      const value = row[rowAt + rule.column]!
      if (
        (rule.atLeast !== undefined && !(value >= rule.atLeast)) ||
        (rule.atMost !== undefined && !(value <= rule.atMost))
      )
        continue
      fired.push(rule.name)
      if (SEVERITY[rule.decision] > SEVERITY[decision]) decision = rule.decision
    }
    return { decision, reasons: ['fallback', `fallback_${reason}`], rules: fired }
  }
}
