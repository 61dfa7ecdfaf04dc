import type { Label } from '../../core/label-v1.js'
import type { LabelSink, TopicPartition } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'
import { toLabelRow } from './label-row.js'
import { tableSink } from './table-sink.js'

export interface LabelsSinkOptions {
  readonly sink: LabelSink
  /** The highest source offset of a partition already in the labels table (−1 if none): replays skip those rows. */
  readonly highOffsetOf: (tp: TopicPartition) => Promise<number>
  readonly runId: string
}

/**
 * Every label into ClickHouse, one row per label record, exactly once as scores are (tableSink).
 */
export function labelsSink(name: string, options: LabelsSinkOptions): Stage<Label, Label> {
  return tableSink(name, {
    sink: options.sink,
    highOffsetOf: options.highOffsetOf,
    rowsOf: (label, origin) => [toLabelRow(label, origin, options.runId)],
  })
}
