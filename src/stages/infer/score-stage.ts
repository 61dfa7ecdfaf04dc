import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { ModelRole, ModelScores, ScoredBatch, Scorer } from '../../core/ports.js'
import type { ModelRef } from '../../core/records.js'
import type { Item, Stage, StageContext } from '../../core/stage.js'
import { isSettled, type Screened } from '../decide/pre-rules-stage.js'
import { challengerArm } from './ab-split.js'
import { firstTierScores, settledByFirstTier, type FirstTier } from './first-tier.js'

/** Why a batch was decided by the fallback rules instead of a model. */
export type FallbackReason = 'error' | 'deadline'

/** A model's score for a transaction it did not decide (a shadow, or the champion/challenger of the other arm). */
export interface SideScore {
  readonly model: ModelRef
  readonly role: ModelRole
  readonly score: number
  readonly thresholds: { readonly review: number; readonly decline: number }
}

export interface ScoredValue extends Screened {
  /** The deciding model's probability; 0 when the fallback rules decide. */
  readonly score: number
  /** The model that decided, or for a fallback the champion that failed. */
  readonly model: ModelRef
  readonly role: ModelRole | 'fallback' | 'rules'
  readonly thresholds: { readonly review: number; readonly decline: number }
  // Always present (undefined when not set): every item has one shape, which keeps the per-record path monomorphic.
  /** Set while a challenger runs: which arm the card falls in. */
  readonly arm: 'champion' | 'challenger' | undefined
  /** The deciding model's largest feature contributions (margin space), largest magnitude first. */
  readonly explanation: readonly { readonly feature: string; readonly contribution: number }[] | undefined
  readonly others: readonly SideScore[]
  readonly fallback: FallbackReason | undefined
  /** With a first tier: 1 when it settled the transaction, 2 when the lineup (or the fallback) decided. */
  readonly tier: 1 | 2 | undefined
}

export interface ScoreStageOptions {
  readonly scorer: Scorer
  /**
   * How long a batch may wait for its scores; past it, and when inference fails, the fallback rules decide it and the
   * job goes on. 0: no deadline.
   */
  readonly deadlineMs: number
  /**
   * Batches at the scorer at once; more wait here. The deadline runs from when a batch is sent, so a backlog queued
   * behind busy workers is not mistaken for a failing model (a batch abandoned at its deadline frees its place).
   */
  readonly concurrency: number
  /** The thresholds a fallback decision is recorded with: the configured ones. */
  readonly thresholds: { readonly review: number; readonly decline: number }
  /**
   * Tiered scoring: the first tier scores every transaction on this thread and settles those outside its borderline
   * band; only the rest go to the scorer. Unset: the scorer scores every transaction.
   */
  readonly firstTier?: FirstTier
  /** Per batch: its size and how long the worker round trip took. */
  readonly onBatch?: (records: number, ms: number) => void
  /** Per batch decided by the fallback rules, with the error when inference failed. */
  readonly onFallback?: (reason: FallbackReason, records: number, err: Error) => void
}

const NONE: readonly SideScore[] = []

/**
 * Micro-batches of feature rows to the scorer (ONNX sessions on worker threads). The ONNX feeder's input is one
 * float32 tensor [rows × features] in the model's feature-contract order; each model's output one probability per
 * row. The champion decides, or the challenger for the cards of its arm; every other model's score rides along. A
 * batch whose inference fails or misses its deadline is passed on for the fallback rules (counted `fallback_error`,
 * `fallback_deadline`). Transactions a list or pre-model rule settled (pre-rules-stage.ts) are not scored: they pass
 * on with role `rules` (counted `settled`). With a first tier, only its borderline transactions reach the scorer
 * (counted `tier1` and `tier2`). The items of a batch are emitted in their order all the same, as the sinks need each
 * partition's offsets in order.
 */
export function scoreStage(name: string, options: ScoreStageOptions): Stage<Screened, ScoredValue> {
  const { scorer } = options
  const width = scorer.featureNames.length
  const slots = new Slots(options.concurrency)
  const { firstTier } = options
  return {
    name,
    process(batch, ctx) {
      // What no model needs to see, per item: settled by the rules, or by tier 1 (undefined: it goes to the lineup).
      let settled: (ScoredValue | undefined)[] | undefined
      const byRules = batch.some((item) => isSettled(item.value))
      if (byRules) {
        settled = batch.map((item) => (isSettled(item.value) ? settledByRules(item.value) : undefined))
        ctx.metrics.count('settled', settled.filter((v) => v !== undefined).length)
      }
      if (firstTier) {
        const open = byRules ? batch.filter((_, i) => settled![i] === undefined) : batch
        const tier1 = firstTierScores(
          firstTier,
          open.map((item) => item.value),
        )
        settled ??= batch.map(() => undefined)
        let tier1Settled = 0
        for (let i = 0, o = 0; i < batch.length; i++) {
          if (settled[i] !== undefined) continue
          const score = tier1[o++]!
          if (!settledByFirstTier(firstTier, score)) continue
          settled[i] = settledValue(batch[i]!.value, firstTier, score)
          tier1Settled++
        }
        if (tier1Settled > 0) ctx.metrics.count('tier1', tier1Settled)
      }
      const rest = settled ? batch.filter((_, i) => settled![i] === undefined) : batch
      if (rest.length === 0) {
        for (let i = 0; i < batch.length; i++) ctx.emit(batch[i]!, settled![i]!)
        return
      }
      if (firstTier) ctx.metrics.count('tier2', rest.length)
      return scoreWithModels(batch, rest, settled, ctx)
    },
  }

  /** A transaction a list or pre-model rule decided: no model asked, decide records the rules' decision. */
  function settledByRules(value: Screened): ScoredValue {
    return {
      ...value,
      score: 0,
      model: scorer.model,
      role: 'rules',
      thresholds: options.thresholds,
      arm: undefined,
      explanation: undefined,
      others: NONE,
      fallback: undefined,
      tier: undefined,
    }
  }

  /**
   * Scores `rest` (all of `batch`, or the items nothing settled) with the lineup and emits every item of `batch` in
   * its order, the settled ones (`settled[i]` set) as they were settled.
   */
  async function scoreWithModels(
    batch: readonly Item<Screened>[],
    rest: readonly Item<Screened>[],
    settled: readonly (ScoredValue | undefined)[] | undefined,
    ctx: StageContext<ScoredValue>,
  ): Promise<void> {
    const tier = firstTier ? 2 : undefined
    const rows = new Float32Array(rest.length * width)
    // A loop, not set(subarray): the view would cost more than copying the row.
    for (let i = 0; i < rest.length; i++) {
      const { rows: from, at } = rest[i]!.value
      for (let j = 0; j < width; j++) rows[i * width + j] = from[at + j]!
    }
    const champion = scorer.model
    let scored: ScoredBatch
    await slots.take()
    const startedMs = ctx.clock.nowMs()
    try {
      scored = await withDeadline(scorer.score(rows, rest.length), options.deadlineMs)
    } catch (err) {
      const reason: FallbackReason = err instanceof DeadlineMissed ? 'deadline' : 'error'
      ctx.metrics.count(`fallback_${reason}`, rest.length)
      options.onFallback?.(reason, rest.length, err as Error)
      let r = 0
      for (let i = 0; i < batch.length; i++) {
        const item = batch[i]!
        if (item !== rest[r]) {
          ctx.emit(item, settled![i]!)
          continue
        }
        r++
        const value: ScoredValue = {
          ...item.value,
          score: 0,
          model: champion,
          role: 'fallback',
          thresholds: options.thresholds,
          arm: undefined,
          explanation: undefined,
          others: NONE,
          fallback: reason,
          tier,
        }
        ctx.emit(item, value)
      }
      return
    } finally {
      slots.give()
    }
    options.onBatch?.(rest.length, ctx.clock.nowMs() - startedMs)
    const [first, ...others] = scored.models
    const challenger = scored.challengerPercent !== undefined ? others[0] : undefined
    let r = 0
    for (let i = 0; i < batch.length; i++) {
      const item = batch[i]!
      if (item !== rest[r]) {
        ctx.emit(item, settled![i]!)
        continue
      }
      const arm =
        challenger === undefined
          ? undefined
          : challengerArm(item.value.tx.card_id, challenger.model, scored.challengerPercent!)
      const decider = arm === 'challenger' ? challenger! : first!
      ctx.emit(item, {
        ...item.value,
        score: decider.scores[r]!,
        model: decider.model,
        role: decider.role,
        thresholds: decider.thresholds,
        arm,
        explanation: decider.explanation ? explanationOf(decider, r, scorer.featureNames) : undefined,
        others: scored.models.length === 1 ? NONE : sideScores(scored.models, decider, r),
        fallback: undefined,
        tier,
      })
      r++
    }
  }
}

/** A transaction tier 1 settled: decided by the first-tier model's score and cut-offs, no other model asked. */
function settledValue(value: Screened, tier: FirstTier, score: number): ScoredValue {
  return {
    ...value,
    score,
    model: tier.model,
    role: 'champion',
    thresholds: tier.thresholds,
    arm: undefined,
    explanation: undefined,
    others: NONE,
    fallback: undefined,
    tier: 1,
  }
}

function sideScores(models: readonly ModelScores[], decider: ModelScores, row: number): SideScore[] {
  const side: SideScore[] = []
  for (const m of models)
    if (m !== decider) side.push({ model: m.model, role: m.role, score: m.scores[row]!, thresholds: m.thresholds })
  return side
}

function explanationOf(
  scores: ModelScores,
  row: number,
  featureNames: readonly string[],
): { feature: string; contribution: number }[] {
  const { k, features, values } = scores.explanation!
  const top: { feature: string; contribution: number }[] = []
  for (let j = row * k; j < row * k + k && features[j]! >= 0; j++)
    top.push({ feature: featureNames[features[j]!]!, contribution: values[j]! })
  return top
}

/** A counting semaphore: `take` resolves once fewer than `size` are taken. */
class Slots {
  #free: number
  readonly #waiting: (() => void)[] = []

  constructor(size: number) {
    this.#free = size
  }

  take(): Promise<void> | void {
    if (this.#free > 0) {
      this.#free--
      return
    }
    return new Promise((resolve) => this.#waiting.push(resolve))
  }

  /** The place goes straight to the oldest waiter, if any. */
  give(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#free++
  }
}

class DeadlineMissed extends FraudstreamError {
  constructor(ms: number) {
    super(ErrorCode.infer, `inference missed its ${ms} ms deadline`, 'internal', true)
  }
}

/**
 * `scoring`, or DeadlineMissed once `ms` have passed. The deadline yields to the event loop's poll phase once
 * before it fires: after a stall of the loop, a worker's answer that arrived in time is taken, not called late.
 */
function withDeadline<T>(scoring: Promise<T>, ms: number): Promise<T> {
  if (ms <= 0) return scoring
  let timer: NodeJS.Timeout | undefined
  const missed = new Promise<never>((_, reject) => {
    timer = setTimeout(() => setImmediate(() => reject(new DeadlineMissed(ms))), ms)
  })
  return Promise.race([scoring, missed]).finally(() => clearTimeout(timer))
}
