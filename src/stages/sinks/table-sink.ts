import type { ScoreSink, SourceRecord, TopicPartition } from '../../core/ports.js'
import { partitionKey, type Stage, type StageOpenContext } from '../../core/stage.js'

export interface TableSinkOptions<T> {
  /** Batches rows across source partitions, one dedup token per batch naming its offset ranges (ClickhouseBatchSink, or memory in tests). */
  readonly sink: ScoreSink
  /** The highest source offset of a partition already in the table (−1 if none): replays skip those rows. */
  readonly highOffsetOf: (tp: TopicPartition) => Promise<number>
  /** The rows a record writes, all under its offset (scores: one per model that scored it). */
  readonly rowsOf: (value: T, origin: SourceRecord) => readonly Record<string, unknown>[]
}

/**
 * A ClickHouse table as a topology's sink, exactly once: rows batched by the sink (one contiguous offset range per
 * partition in a batch, one deterministic dedup token naming them); after a restart, offsets an earlier owner already
 * wrote get no second row; an offset is committed only once its row is acknowledged (the item is held until then).
 * Counts `rows` as ClickHouse acknowledges them and `skipped` for those already there; passes every item on.
 */
export function tableSink<T>(name: string, options: TableSinkOptions<T>): Stage<T, T> {
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
          const rows = options.rowsOf(item.value, origin)
          // The ack keeps the count, not the rows: the sink holds them encoded until ClickHouse acknowledges.
          const count = rows.length
          options.sink.add(origin.topic, origin.partition, origin.offset, rows, () => {
            open!.metrics.count('rows', count)
            ack()
          })
        } else skipped++
        ctx.emit(item, item.value)
      }
      if (skipped > 0) ctx.metrics.count('skipped', skipped)
    },
  }
}
