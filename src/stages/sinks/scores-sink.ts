import type { ScoreSink, TopicPartition } from '../../core/ports.js'
import { partitionKey, type Stage, type StageOpenContext } from '../../core/stage.js'
import type { Decided } from '../decide/decide-stage.js'
import { toScoreRow } from './score-row.js'

export interface ScoresSinkOptions {
  readonly sink: ScoreSink
  /** The highest source offset of a partition already in the scores table (−1 if none): replays skip those rows. */
  readonly highOffsetOf: (tp: TopicPartition) => Promise<number>
  readonly featureNames: readonly string[]
  readonly featureContract: string
  readonly runId: string
}

/**
 * Every score with its features into ClickHouse, batched per source partition by the ScoreSink (deterministic
 * offset ranges, one dedup token each). After a restart, offsets an earlier owner already wrote get no second row.
 * Counts `rows` as ClickHouse acknowledges them; passes every item on.
 */
export function scoresSink(name: string, options: ScoresSinkOptions): Stage<Decided, Decided> {
  const highOffsets = new Map<string, number>()
  let open: StageOpenContext | undefined
  return {
    name,
    open(ctx) {
      open = ctx
    },
    async restore(tp) {
      highOffsets.set(partitionKey(tp), await options.highOffsetOf(tp))
    },
    release(tp) {
      highOffsets.delete(partitionKey(tp))
      options.sink.drop(tp.topic, tp.partition)
    },
    // Cut the open batches now; their acks are awaited through the trackers (awaiting the flush itself would wait
    // forever on a ClickHouse outage).
    flush: (tp) => void options.sink.flush(tp),
    process(batch, ctx) {
      for (const item of batch) {
        const { origin } = item
        if (origin.offset > highOffsets.get(partitionKey(origin))!) {
          const { tx, decision, rows, at, late } = item.value
          const row = toScoreRow({
            tx,
            decision,
            featureNames: options.featureNames,
            row: rows,
            rowAt: at,
            featureContract: options.featureContract,
            late,
            source: origin,
            sourceTimestampMs: origin.timestampMs,
            runId: options.runId,
          })
          const ack = ctx.hold(item, 'ack')
          options.sink.add(origin.topic, origin.partition, origin.offset, row, () => {
            open!.metrics.count('rows')
            ack()
          })
        }
        ctx.emit(item, item.value)
      }
    },
  }
}
