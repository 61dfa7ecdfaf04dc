import type { Decision } from '../core/records.js'
import type { CompiledRule, RuleInput } from './compile-rule.js'
import type { ListIndex } from './list-index.js'

/**
 * What the lists and pre-model rules found for a transaction. With a `decision` the transaction is settled: it
 * skips inference and is decided as found. Without one, its reasons, rules and band move join the decision after
 * the model.
 */
export interface Screening {
  readonly decision: Decision | undefined
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
  /** Net band moves asked for (+1 raise, −1 lower per rule), applied after the thresholds. */
  readonly band: number
}

/** A decision as the thresholds or the fallback rules made it; the shape of stages/decide's DecisionOutcome. */
export interface Outcome {
  readonly decision: Decision
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
}

const BANDS: readonly Decision[] = ['approve', 'review', 'decline']

/** `decision` moved `by` bands, clamped: approve ↔ review ↔ decline. */
export function shiftBand(decision: Decision, by: number): Decision {
  if (by === 0) return decision
  const at = Math.min(BANDS.length - 1, Math.max(0, BANDS.indexOf(decision) + by))
  return BANDS[at]!
}

/** Rules in the order they run: priority ascending, then id, so every instance orders a tie alike. */
export function byPriority(a: CompiledRule, b: CompiledRule): number {
  return a.priority - b.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/**
 * One version of the rules and lists, as every decision made with it records (`rules_version`). Immutable apart from
 * the list index, which the lists topic updates in place (a new engine with a new version is made for each change).
 *
 * | step          | what runs                         | a forced decision                              |
 * | ------------- | --------------------------------- | ---------------------------------------------- |
 * | screen (pre)  | block, allow, watch lists; `pre` rules by priority | block → decline, allow → approve, else the first pre rule's; inference is skipped |
 * | amend (post)  | `post` rules by priority, after the thresholds | the first post rule's; else the bands move by every fired rule's raise/lower |
 *
 * Every rule that fires is named in `rules` (`rule:<id>`), every list that forces in `rules` and `reasons`
 * (`list:block:card`), and every rule's reason code joins `reasons`.
 */
export class RuleEngine {
  readonly #pre: readonly CompiledRule[]
  readonly #post: readonly CompiledRule[]

  constructor(
    readonly version: string,
    rules: readonly CompiledRule[],
    readonly lists: ListIndex,
  ) {
    const sorted = [...rules].sort(byPriority)
    this.#pre = sorted.filter((r) => r.stage === 'pre')
    this.#post = sorted.filter((r) => r.stage === 'post')
  }

  /** Rules that run, pre and post. */
  get size(): number {
    return this.#pre.length + this.#post.length
  }

  /** The lists and pre rules on one transaction; undefined when nothing matched (most transactions). */
  screen(input: RuleInput): Screening | undefined {
    const hits = this.lists.size > 0 ? this.lists.hits(input.tx, input.nowMs) : undefined
    if (hits === undefined && this.#pre.length === 0) return undefined
    let decision: Decision | undefined
    let reasons: string[] | undefined
    let rules: string[] | undefined
    let band = 0
    if (hits)
      for (const hit of hits) {
        ;(reasons ??= []).push(hit.code)
        if (hit.list === 'watch') continue
        ;(rules ??= []).push(hit.code)
        // Block lists come first in `hits`: a card on both lists is declined.
        decision ??= hit.list === 'block' ? 'decline' : 'approve'
      }
    for (const rule of this.#pre) {
      if (!rule.test(input)) continue
      ;(rules ??= []).push(rule.name)
      if (rule.then.reason !== undefined) (reasons ??= []).push(rule.then.reason)
      if (rule.then.decision !== undefined) decision ??= rule.then.decision
      band += bandOf(rule)
    }
    if (rules === undefined && reasons === undefined) return undefined
    return { decision, reasons: reasons ?? NONE, rules: rules ?? NONE, band }
  }

  /**
   * The post rules on a decision the thresholds (or, with `modelScored` false, the fallback rules) made, with what
   * screening found. A fallback has no score: rules reading `score` are skipped for it.
   */
  amend(outcome: Outcome, input: RuleInput, screening: Screening | undefined, modelScored: boolean): Outcome {
    let forced: Decision | undefined
    let reasons: string[] | undefined
    let rules: string[] | undefined
    let band = screening?.band ?? 0
    for (const rule of this.#post) {
      if (rule.readsScore && !modelScored) continue
      if (!rule.test(input)) continue
      ;(rules ??= []).push(rule.name)
      if (rule.then.reason !== undefined) (reasons ??= []).push(rule.then.reason)
      if (rule.then.decision !== undefined) forced ??= rule.then.decision
      band += bandOf(rule)
    }
    if (rules === undefined && screening === undefined) return outcome
    return {
      decision: forced ?? shiftBand(outcome.decision, band),
      reasons: [...outcome.reasons, ...(screening?.reasons ?? NONE), ...(reasons ?? NONE)],
      rules: [...outcome.rules, ...(screening?.rules ?? NONE), ...(rules ?? NONE)],
    }
  }
}

const NONE: readonly string[] = []

function bandOf(rule: CompiledRule): number {
  return rule.then.band === 'raise' ? 1 : rule.then.band === 'lower' ? -1 : 0
}
