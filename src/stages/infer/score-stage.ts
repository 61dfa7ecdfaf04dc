import { ErrorCode, FraudstreamError } from '../../core/errors.js'
import type { ModelRole, ModelScores, ScoredBatch, Scorer } from '../../core/ports.js'
import type { ModelRef } from '../../core/records.js'
import type { Stage } from '../../core/stage.js'
import { isSettled, type Screened } from '../decide/pre-rules-stage.js'
import { challengerArm } from './ab-split.js'

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
  /** The deciding model's probability; 0 when the fallback rules decide or a pre-model rule settled it. */
  readonly score: number
  /** The model that decided, or for a fallback (or a transaction the rules settled) the champion. */
  readonly model: ModelRef
  /** `rules`: a list or pre-model rule decided it and no model scored it. */
  readonly role: ModelRole | 'fallback' | 'rules'
  readonly thresholds: { readonly review: number; readonly decline: number }
  // Always present (undefined when not set): every item has one shape, which keeps the per-record path monomorphic.
  /** Set while a challenger runs: which arm the card falls in. */
  readonly arm: 'champion' | 'challenger' | undefined
  /** The deciding model's largest feature contributions (margin space), largest magnitude first. */
  readonly explanation: readonly { readonly feature: string; readonly contribution: number }[] | undefined
  readonly others: readonly SideScore[]
  readonly fallback: FallbackReason | undefined
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
 * on in their place among the batch's items with role `rules` (counted `settled`).
 */
export function scoreStage(name: string, options: ScoreStageOptions): Stage<Screened, ScoredValue> {
  const { scorer } = options
  const width = scorer.featureNames.length
  const slots = new Slots(options.concurrency)
  return {
    name,
    async process(all, ctx) {
      const champion = scorer.model
      // Settled transactions skip inference; `batch` is what the models score, `all` keeps the items' order.
      const batch = all.some((item) => isSettled(item.value)) ? all.filter((item) => !isSettled(item.value)) : all
      const settled = (item: (typeof all)[number]): ScoredValue => ({
        ...item.value,
        score: 0,
        model: champion,
        role: 'rules',
        thresholds: options.thresholds,
        arm: undefined,
        explanation: undefined,
        others: NONE,
        fallback: undefined,
      })
      if (batch !== all) ctx.metrics.count('settled', all.length - batch.length)
      if (batch.length === 0) {
        for (const item of all) ctx.emit(item, settled(item))
        return
      }
      const rows = new Float32Array(batch.length * width)
      // A loop, not set(subarray): the view would cost more than copying the row.
      for (let i = 0; i < batch.length; i++) {
        const { rows: from, at } = batch[i]!.value
        for (let j = 0; j < width; j++) rows[i * width + j] = from[at + j]!
      }
      let scored: ScoredBatch
      await slots.take()
      const startedMs = ctx.clock.nowMs()
      try {
        scored = await withDeadline(scorer.score(rows, batch.length), options.deadlineMs)
      } catch (err) {
        const reason: FallbackReason = err instanceof DeadlineMissed ? 'deadline' : 'error'
        ctx.metrics.count(`fallback_${reason}`, batch.length)
        options.onFallback?.(reason, batch.length, err as Error)
        for (const item of all) {
          if (batch !== all && isSettled(item.value)) {
            ctx.emit(item, settled(item))
            continue
          }
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
          }
          ctx.emit(item, value)
        }
        return
      } finally {
        slots.give()
      }
      options.onBatch?.(batch.length, ctx.clock.nowMs() - startedMs)
      const [first, ...rest] = scored.models
      const challenger = scored.challengerPercent !== undefined ? rest[0] : undefined
      let row = 0
      for (const item of all) {
        if (batch !== all && isSettled(item.value)) {
          ctx.emit(item, settled(item))
          continue
        }
        // The item's row in the scored batch.
        const i = row++
        const arm =
          challenger === undefined
            ? undefined
            : challengerArm(item.value.tx.card_id, challenger.model, scored.challengerPercent!)
        const decider = arm === 'challenger' ? challenger! : first!
        ctx.emit(item, {
          ...item.value,
          score: decider.scores[i]!,
          model: decider.model,
          role: decider.role,
          thresholds: decider.thresholds,
          arm,
          explanation: decider.explanation ? explanationOf(decider, i, scorer.featureNames) : undefined,
          others: scored.models.length === 1 ? NONE : sideScores(scored.models, decider, i),
          fallback: undefined,
        })
      }
    },
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
