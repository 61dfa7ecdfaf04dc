import type { Stage } from '../../core/stage.js'
import type { RuleEngine, Screening } from '../../rules/rule-engine.js'
import type { Featured } from '../windows/card-windows-stage.js'

/**
 * A featured transaction as the pre-model rules left it. Both fields are optional so that a graph without this
 * stage (replay) feeds the score and decide stages with plain Featured values.
 */
export interface Screened extends Featured {
  /** What the lists and pre rules found; with a decision the transaction is settled and skips inference. */
  readonly screening?: Screening | undefined
  /** The rules version the transaction is decided with, pre and post alike. */
  readonly ruleEngine?: RuleEngine | undefined
}

/** Where the current rules come from: the broadcast state (rules-state.ts), read once per batch. */
export interface RulesSource {
  readonly engine: RuleEngine
}

/** Whether a pre-model rule or list already decided the transaction (the score stage passes it by). */
export function isSettled(value: Screened): boolean {
  return value.screening?.decision !== undefined
}

/**
 * The allow/block/watch lists and the `pre` rules, between the lookups and the model. A forced decision settles the
 * transaction: the score stage passes it on without inference and decide records it as found. Counts `settled`
 * and `screened` (something matched without settling).
 */
export function preRulesStage(name: string, options: { rules: RulesSource }): Stage<Featured, Screened> {
  return {
    name,
    process(batch, ctx) {
      // One engine for the batch, carried by each item, so decide applies the post rules of the same version.
      const engine = options.rules.engine
      const nowMs = ctx.clock.wallMs()
      let settled = 0
      let screened = 0
      for (const item of batch) {
        const value = item.value
        const screening = engine.screen({ tx: value.tx, rows: value.rows, at: value.at, score: NaN, nowMs })
        if (screening) {
          if (screening.decision !== undefined) settled++
          else screened++
        }
        ctx.emit(item, { ...value, screening, ruleEngine: engine })
      }
      if (settled > 0) ctx.metrics.count('settled', settled)
      if (screened > 0) ctx.metrics.count('screened', screened)
    },
  }
}
