import type { TopicPartition } from '../../core/ports.js'
import type { ClickHouseClient } from './client.js'
import { highSourceOffset } from './high-offset.js'
import { queryRows } from './query-rows.js'

/** The highest source offset of a partition already in `scores` for a run, −1 if none: the sink's resume point. */
export async function scoresHighOffset(client: ClickHouseClient, tp: TopicPartition, runId: string): Promise<number> {
  return highSourceOffset(client, 'scores', tp, runId)
}

/** A transaction's decision as `scores` recorded it: the deciding row (champion, challenger or fallback), not a shadow's. */
export interface RecordedDecision {
  readonly decision: 'approve' | 'review' | 'decline'
  readonly score: number
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
  readonly model: { readonly name: string; readonly version: string }
}

/** The recorded decisions of `ids` in a run (the scoring API's answer for a retry whose first try it no longer holds). */
export async function recordedDecisions(
  client: ClickHouseClient,
  ids: readonly string[],
  runId: string,
): Promise<Map<string, RecordedDecision>> {
  const rows = await queryRows<{
    transaction_id: string
    decision: RecordedDecision['decision']
    score: number
    reasons: string[]
    rules: string[]
    model_name: string
    model_version: string
  }>(
    client,
    `SELECT transaction_id, decision, score, reasons, rules, model_name, model_version
     FROM scores
     WHERE run_id = {runId:String} AND transaction_id IN {ids:Array(String)} AND model_role != 'shadow'
     LIMIT 1 BY transaction_id`,
    { runId, ids },
    'reading recorded decisions from scores',
  )
  return new Map(
    rows.map((r) => [
      r.transaction_id,
      {
        decision: r.decision,
        score: r.score,
        reasons: r.reasons,
        rules: r.rules,
        model: { name: r.model_name, version: r.model_version },
      },
    ]),
  )
}
