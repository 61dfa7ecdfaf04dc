import { partitionKey, type Stage, type StageOpenContext } from '../../core/stage.js'
import type { TopicPartition } from '../../core/ports.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { Dedupe, type DedupeOptions, type DedupeSnapshot } from './dedupe.js'

export interface DedupeStage extends Stage<Transaction, Transaction> {
  /** The partition's store, for its size (metrics). */
  storeOf(tp: TopicPartition): Dedupe | undefined
  /** Ids forgotten before their horizon since this owner restored the partition (a restored store brings its own total). */
  evictedEarlySinceRestore(tp: TopicPartition): number
}

/** Drops a transaction whose id its partition saw within the horizon, and counts it as `duplicate`. */
export function dedupeStage(name: string, options: DedupeOptions): DedupeStage {
  const stores = new Map<string, Dedupe>()
  const restoredEvictedEarly = new Map<string, number>()
  let metrics: StageOpenContext['metrics'] | undefined
  return {
    name,
    fingerprint: `${options.horizonMs}:${options.maxEntries}`,
    open(ctx) {
      metrics = ctx.metrics
    },
    restore(tp, snapshot) {
      const store =
        snapshot === undefined ? new Dedupe(options) : Dedupe.fromSnapshot(options, snapshot as DedupeSnapshot)
      stores.set(partitionKey(tp), store)
      restoredEvictedEarly.set(partitionKey(tp), store.evictedEarly)
    },
    snapshot: (tp) => stores.get(partitionKey(tp))!.toSnapshot(),
    release(tp) {
      stores.delete(partitionKey(tp))
      restoredEvictedEarly.delete(partitionKey(tp))
    },
    storeOf: (tp) => stores.get(partitionKey(tp)),
    evictedEarlySinceRestore: (tp) =>
      (stores.get(partitionKey(tp))?.evictedEarly ?? 0) - (restoredEvictedEarly.get(partitionKey(tp)) ?? 0),
    process(batch, ctx) {
      let duplicates = 0
      for (const item of batch) {
        const tx = item.value
        if (!stores.get(partitionKey(item.origin))!.isDuplicate(tx.transaction_id, tx.eventTimeMs)) ctx.emit(item, tx)
        else if (!item.replay) duplicates++
      }
      if (duplicates > 0) metrics!.count('duplicate', duplicates)
    },
  }
}
