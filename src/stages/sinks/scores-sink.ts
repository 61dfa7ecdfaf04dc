import type { ScoreSink, TopicPartition } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'
import type { Decided } from '../decide/decide-stage.js'
import { toScoreRow } from './score-row.js'
import { tableSink } from './table-sink.js'

export interface ScoresSinkOptions {
  readonly sink: ScoreSink
  /** The highest source offset of a partition already in the scores table (−1 if none): replays skip those rows. */
  readonly highOffsetOf: (tp: TopicPartition) => Promise<number>
  readonly featureNames: readonly string[]
  readonly featureContract: string
  readonly runId: string
}

/** Every score with its features into ClickHouse, exactly once (tableSink). */
export function scoresSink(name: string, options: ScoresSinkOptions): Stage<Decided, Decided> {
  return tableSink(name, {
    sink: options.sink,
    highOffsetOf: options.highOffsetOf,
    rowOf: ({ tx, decision, rows, at, late }, origin) =>
      toScoreRow({
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
      }),
  })
}
