import type { ScoreSink, SourceRecord, TopicPartition } from '../../core/ports.js'
import type { Stage } from '../../core/stage.js'
import type { Decided } from '../decide/decide-stage.js'
import { sideScoreRow, toScoreRow, type ScoreRow } from './score-row.js'
import { tableSink } from './table-sink.js'

export interface ScoresSinkOptions {
  readonly sink: ScoreSink
  /** The highest source offset of a partition already in the scores table (−1 if none): replays skip those rows. */
  readonly highOffsetOf: (tp: TopicPartition) => Promise<number>
  readonly featureNames: readonly string[]
  readonly featureContract: string
  readonly runId: string
}

/**
 * Every score with its features into ClickHouse, exactly once (tableSink): the deciding model's row, then a row per
 * model that only scored (model_role `shadow`), all under the transaction's offset.
 */
export function scoresSink(name: string, options: ScoresSinkOptions): Stage<Decided, Decided> {
  return tableSink(name, {
    sink: options.sink,
    highOffsetOf: options.highOffsetOf,
    rowsOf: (decided, origin) => scoreRowsOf(decided, origin, options),
  })
}

/**
 * A decided transaction's `scores` rows: the deciding model's, then one per model that only scored. The stream's sink
 * and `fraudstream replay` both build them here, so a replayed row is the live row under another run id.
 */
export function scoreRowsOf(
  { tx, decision, rows, at, late, role, others }: Decided,
  origin: Pick<SourceRecord, 'topic' | 'partition' | 'offset' | 'timestampMs'>,
  options: Pick<ScoresSinkOptions, 'featureNames' | 'featureContract' | 'runId'>,
): ScoreRow[] {
  const decided = toScoreRow({
    tx,
    decision,
    role,
    featureNames: options.featureNames,
    row: rows,
    rowAt: at,
    featureContract: options.featureContract,
    late,
    source: origin,
    sourceTimestampMs: origin.timestampMs,
    runId: options.runId,
  })
  return others.length === 0 ? [decided] : [decided, ...others.map((side) => sideScoreRow(decided, side))]
}
