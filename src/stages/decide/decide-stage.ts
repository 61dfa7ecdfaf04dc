import type { AlertV1, DecisionV1 } from '../../core/records.js'
import type { Stage } from '../../core/stage.js'
import type { ScoredValue, SideScore } from '../infer/score-stage.js'
import { alertOf, type AlertPolicy } from './alert-of.js'
import { createDecider, type DecisionOutcome, type Thresholds } from './decide.js'
import { createFallbackDecider, type FallbackRule } from './fallback-rules.js'

/** A scored transaction with its Decision v1 and, for a decline or a review, the alert it raises (alertOf). */
export interface Decided extends ScoredValue {
  readonly decision: DecisionV1
  readonly alert: AlertV1 | undefined
}

export interface DecideStageOptions {
  readonly thresholds: Thresholds
  readonly featureNames: readonly string[]
  /** What decides a batch the models could not score (inference failed or missed its deadline). */
  readonly fallbackRules: readonly FallbackRule[]
  /** Which declines are critical; unset: none (every decline is high). */
  readonly alerts?: AlertPolicy
  /**
   * Each decision as it is handed on, with its event → decision latency: from the record's Kafka timestamp
   * (CreateTime, or the broker's LogAppendTime) to now; undefined when the record has no timestamp.
   */
  readonly onDecided?: (decision: DecisionV1, eventToDecisionMs: number | undefined) => void
}

/**
 * Thresholds and reason codes → Decision v1 (DESIGN.md §3); a decline or a review also raises an alert (alertOf). The deciding
 * model's own thresholds apply; its top feature contributions join the reasons as `feature:<name>`; the other models'
 * scores go under `shadow`. A batch without scores is decided by the fallback rules. Counts each outcome (`approve`,
 * `review`, `decline`).
 *
 * Rules (src/rules/): a transaction a list or pre-model rule settled is decided as they found (score 0, role
 * `rules`); any other gets the post-model rules of the same rule-set version after its thresholds, which may force
 * a decision, add reasons or move the band. The decision records that version in `rules_version`.
 */
export function decideStage(name: string, options: DecideStageOptions): Stage<ScoredValue, Decided> {
  const alertPolicy: AlertPolicy = options.alerts ?? { criticalScore: Infinity }
  const decide = createDecider(options.thresholds, options.featureNames)
  const decideFallback = createFallbackDecider(options.fallbackRules, options.featureNames)
  // A feature's reason code, made once: `feature:<name>` for each of a decision's top contributions.
  const featureReason = new Map(options.featureNames.map((name) => [name, `feature:${name}`]))
  return {
    name,
    process(batch, ctx) {
      const counts = { approve: 0, review: 0, decline: 0 }
      for (const item of batch) {
        const { tx, score, rows, at, fallback, explanation, others, arm, tier, screening, ruleEngine } = item.value
        let outcome: DecisionOutcome
        if (screening?.decision !== undefined)
          outcome = { decision: screening.decision, reasons: screening.reasons, rules: screening.rules }
        else {
          outcome = fallback ? decideFallback(fallback, rows, at) : decide(score, rows, at, item.value.thresholds)
          if (ruleEngine)
            outcome = ruleEngine.amend(
              outcome,
              { tx, rows, at, score, nowMs: ctx.clock.wallMs() },
              screening,
              fallback === undefined,
            )
        }
        if (explanation && explanation.length > 0)
          outcome = {
            ...outcome,
            reasons: [...outcome.reasons, ...explanation.map((e) => featureReason.get(e.feature)!)],
          }
        const latencyMs = ctx.clock.nowMs() - item.receivedAtMs
        const decision: DecisionV1 = {
          transaction_id: tx.transaction_id,
          card_id: tx.card_id,
          event_time: new Date(tx.eventTimeMs).toISOString(),
          decided_at: new Date(ctx.clock.wallMs()).toISOString(),
          score,
          decision: outcome.decision,
          reasons: outcome.reasons,
          rules: outcome.rules,
          ...(ruleEngine ? { rules_version: ruleEngine.version } : {}),
          model: item.value.model,
          ...(others.length > 0 ? { shadow: others.map(shadowOf) } : {}),
          ...(arm ? { arm } : {}),
          ...(explanation ? { explanation } : {}),
          ...(tier ? { tier } : {}),
          latency_ms: Math.round(latencyMs * 1000) / 1000,
        }
        const alert = alertOf(decision, tx, alertPolicy)
        counts[outcome.decision]++
        const recordMs = item.origin.timestampMs
        options.onDecided?.(decision, recordMs > 0 ? ctx.clock.wallMs() - recordMs : undefined)
        ctx.emit(item, { ...item.value, decision, alert })
      }
      for (const [outcome, n] of Object.entries(counts)) if (n > 0) ctx.metrics.count(outcome, n)
    },
  }
}

function shadowOf(side: SideScore): NonNullable<DecisionV1['shadow']>[number] {
  return { name: side.model.name, version: side.model.version, role: side.role, score: side.score }
}
