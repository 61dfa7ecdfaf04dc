import type { Label } from '../../core/label-v1.js'
import type { LabelSink, TopicPartition } from '../../core/ports.js'
import { partitionKey, type Stage, type StageOpenContext } from '../../core/stage.js'
import { toLabelRow } from './label-row.js'

export interface LabelsSinkOptions {
  readonly sink: LabelSink
  /** The highest source offset of a partition already in the labels table (−1 if none): replays skip those rows. */
  readonly highOffsetOf: (tp: TopicPartition) => Promise<number>
  readonly runId: string
}

/**
 * Every label into ClickHouse, one row per label record, batched per source partition by the LabelSink
 * (deterministic offset ranges, one dedup token each), with the scores sink's discipline: after a restart, offsets
 * already in the table get no second row, and an offset is committed only once its row is acknowledged. Counts
 * `rows` as ClickHouse acknowledges them (`skipped` for those already there); passes every item on.
 */
export function labelsSink(name: string, options: LabelsSinkOptions): Stage<Label, Label> {
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
      let skipped = 0
      for (const item of batch) {
        const { origin } = item
        if (origin.offset > highOffsets.get(partitionKey(origin))!) {
          const ack = ctx.hold(item, 'ack')
          options.sink.add(
            origin.topic,
            origin.partition,
            origin.offset,
            toLabelRow(item.value, origin, options.runId),
            () => {
              open!.metrics.count('rows')
              ack()
            },
          )
        } else skipped++
        ctx.emit(item, item.value)
      }
      if (skipped > 0) ctx.metrics.count('skipped', skipped)
    },
  }
}
