import type { Scorer } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'
import type { Featured } from '../windows/card-windows-stage.js'

export interface ScoredValue extends Featured {
  readonly score: number
}

export interface ScoreStageOptions {
  readonly scorer: Scorer
  /** Per batch: its size and how long the worker round trip took. */
  readonly onBatch?: (records: number, ms: number) => void
}

/**
 * Micro-batches of feature rows to the scorer (ONNX sessions on worker threads). The ONNX feeder's input is one
 * float32 tensor [rows × features] in the model's feature-contract order; its output one probability per row.
 */
export function scoreStage(name: string, options: ScoreStageOptions): Stage<Featured, ScoredValue> {
  const { scorer } = options
  const width = scorer.featureNames.length
  return {
    name,
    async process(batch, ctx) {
      const rows = new Float32Array(batch.length * width)
      // A loop, not set(subarray): the view would cost more than copying the row.
      for (let i = 0; i < batch.length; i++) {
        const { rows: from, at } = batch[i]!.value
        for (let j = 0; j < width; j++) rows[i * width + j] = from[at + j]!
      }
      const startedMs = ctx.clock.nowMs()
      const scores = await scorer.score(rows, batch.length)
      options.onBatch?.(batch.length, ctx.clock.nowMs() - startedMs)
      for (let i = 0; i < batch.length; i++) {
        const item = batch[i]!
        ctx.emit(item, { ...item.value, score: scores[i]! })
      }
    },
  }
}
