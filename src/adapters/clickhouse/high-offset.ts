import type { TopicPartition } from '../../core/ports.js'
import type { ClickHouseClient } from './client.js'

/** The tables a sink writes with offset-range dedup tokens, resuming after the highest source offset already there. */
export type OffsetTrackedTable = 'scores' | 'labels'

/**
 * The highest source offset of a partition already in `table` for a run, −1 if none: a sink's resume point. Each
 * partition's rows reach the table as a prefix of its offsets (ClickhouseBatchSink inserts one batch at a time, in
 * order), so every offset at or below it is there.
 */
export async function highSourceOffset(
  client: ClickHouseClient,
  table: OffsetTrackedTable,
  tp: TopicPartition,
  runId: string,
): Promise<number> {
  const result = await client.query({
    query: `SELECT toInt64(max(source_offset)) AS high, count() AS n FROM ${table}
            WHERE run_id = {runId:String} AND source_topic = {topic:String} AND source_partition = {partition:UInt32}`,
    query_params: { runId, topic: tp.topic, partition: tp.partition },
    format: 'JSONEachRow',
  })
  const rows = await result.json<{ high: string | number; n: string | number }>()
  const row = rows[0]
  return row && Number(row.n) > 0 ? Number(row.high) : -1
}
