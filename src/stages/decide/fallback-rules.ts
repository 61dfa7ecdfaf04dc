import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import { Decision } from '../../core/records.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { compileCondition, type RuleInput } from '../../rules/compile-rule.js'
import { ListIndex } from '../../rules/list-index.js'
import type { Condition } from '../../rules/rule-v1.js'
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
 * in `rules` (`fallback:<feature>>=<level>`); the reasons say it was a fallback and why. Each rule is a condition of
 * the rule language (`feature.<name> >= level`), compiled by the same engine as the runtime rules (src/rules/).
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
    const field = `feature.${rule.feature}`
    const when: Condition = {
      all: [
        ...(rule.atLeast !== undefined ? [{ field, op: '>=' as const, value: rule.atLeast }] : []),
        ...(rule.atMost !== undefined ? [{ field, op: '<=' as const, value: rule.atMost }] : []),
      ],
    }
    const test = compileCondition(when, { featureNames, lists: NO_LISTS }, { stage: 'pre', path: name })
    return { decision: rule.decision, name, test }
  })
  return function decideFallback(reason: string, row: Float32Array, rowAt = 0): DecisionOutcome {
    let decision: Decision = Decision.approve
    const fired: string[] = []
    // The conditions read features only (built above), so the input carries no transaction.
    const input: RuleInput = { tx: NO_TX, rows: row, at: rowAt, score: NaN, nowMs: 0 }
    for (const rule of compiled) {
      if (!rule.test(input)) continue
      fired.push(rule.name)
      if (SEVERITY[rule.decision] > SEVERITY[decision]) decision = rule.decision
    }
    return { decision, reasons: ['fallback', `fallback_${reason}`], rules: fired }
  }
}

const NO_LISTS = new ListIndex()
const NO_TX = undefined as unknown as Transaction
