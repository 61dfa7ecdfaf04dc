import type { TopicPartition } from '../../core/ports.js'
import type { ClickHouseClient } from './client.js'

/** The highest source offset of a partition already in `scores` for a run, −1 if none: the sink's resume point. */
export async function scoresHighOffset(client: ClickHouseClient, tp: TopicPartition, runId: string): Promise<number> {
  const result = await client.query({
    query: `SELECT toInt64(max(source_offset)) AS high, count() AS n FROM scores
            WHERE run_id = {runId:String} AND source_topic = {topic:String} AND source_partition = {partition:UInt32}`,
    query_params: { runId, topic: tp.topic, partition: tp.partition },
    format: 'JSONEachRow',
  })
  const rows = await result.json<{ high: string | number; n: string | number }>()
  const row = rows[0]
  return row && Number(row.n) > 0 ? Number(row.high) : -1
}
