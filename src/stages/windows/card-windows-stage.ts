import type { TopicPartition } from '../../core/ports.js'
import { partitionKey, type Item, type Stage, type StageOpenContext } from '../../core/stage.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { CardFeatures, type CardFeaturesOptions, type CardFeaturesSnapshot } from './card-features.js'

/** A transaction with its feature row: row `at` of `rows`, shared with the rest of its batch. */
export interface Featured {
  readonly tx: Transaction
  readonly rows: Float32Array
  readonly at: number
  /** Older than the partition's watermark: scored with the state as it is, and it entered no window. */
  readonly late: boolean
  /** The time its lookup features are read at: the event time, or the watermark for a late one. */
  readonly lookupAtMs: number
}

export interface CardWindowsStage extends Stage<Transaction, Featured> {
  featuresOf(tp: TopicPartition): CardFeatures | undefined
}

/**
 * Card-keyed event-time windows in partition-local memory, and the feature row each transaction reads from them
 * (derived and window features; lookup columns are filled later). Late transactions are counted as `late`.
 */
export function cardWindowsStage(name: string, options: CardFeaturesOptions): CardWindowsStage {
  const states = new Map<string, CardFeatures>()
  let metrics: StageOpenContext['metrics'] | undefined
  return {
    name,
    fingerprint: CardFeatures.fingerprint(options),
    open(ctx) {
      metrics = ctx.metrics
    },
    restore(tp, snapshot) {
      states.set(partitionKey(tp), new CardFeatures(options, snapshot as CardFeaturesSnapshot | undefined))
    },
    snapshot: (tp) => states.get(partitionKey(tp))!.toSnapshot(),
    release: (tp) => void states.delete(partitionKey(tp)),
    featuresOf: (tp) => states.get(partitionKey(tp)),
    process(batch, ctx) {
      // A poll mixes partitions; each partition's state takes its own records as one batch, in offset order.
      const byPartition = new Map<string, Item<Transaction>[]>()
      for (const item of batch) {
        const key = partitionKey(item.origin)
        const items = byPartition.get(key)
        if (items) items.push(item)
        else byPartition.set(key, [item])
      }
      let late = 0
      for (const [key, items] of byPartition) {
        const result = states.get(key)!.observeBatch(items.map((item) => item.value))
        for (let i = 0; i < items.length; i++) {
          const item = items[i]!
          if (result.late[i] && !item.replay) late++
          ctx.emit(item, {
            tx: item.value,
            rows: result.rows,
            at: i * result.width,
            late: result.late[i]!,
            lookupAtMs: result.lookupAtMs[i]!,
          })
        }
      }
      if (late > 0) metrics!.count('late', late)
    },
  }
}
