import type { PartitionedSource, TopicPartition } from '../core/ports.js'

export interface PartitionPosition {
  readonly tp: TopicPartition
  readonly low: number
  readonly high: number
  /** The group's committed offset; undefined where none is. */
  readonly committed: number | undefined
}

/** Where newly assigned partitions stand: what every assignment handler decides its start offsets from. */
export async function positionsOf(source: PartitionedSource, partitions: readonly TopicPartition[]): Promise<PartitionPosition[]> {
  const committed = await source.committed(partitions)
  const positions: PartitionPosition[] = []
  for (const [i, tp] of partitions.entries()) positions.push({ tp, ...(await source.watermarks(tp)), committed: committed[i] })
  return positions
}
