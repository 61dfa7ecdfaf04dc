import type { TopicPartition } from '../../core/ports.js'
import type { ClickHouseClient } from './client.js'
import { highSourceOffset } from './high-offset.js'

/** The highest source offset of a partition already in `scores` for a run, −1 if none: the sink's resume point. */
export async function scoresHighOffset(client: ClickHouseClient, tp: TopicPartition, runId: string): Promise<number> {
  return highSourceOffset(client, 'scores', tp, runId)
}
