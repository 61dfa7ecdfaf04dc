import type { PartitionedSource, TopicPartition } from '../core/ports.js'

export interface PartitionPosition {
  readonly tp: TopicPartition
  readonly low: number
  readonly high: number
  /** The group's committed offset; undefined where none is. */
  readonly committed: number | undefined
}

/** Where newly assigned partitions stand: what every assignment handler decides its start offsets from. */
export async function positionsOf(
  source: PartitionedSource,
  partitions: readonly TopicPartition[],
): Promise<PartitionPosition[]> {
  const committed = await source.committed(partitions)
  const positions: PartitionPosition[] = []
  for (const [i, tp] of partitions.entries())
    positions.push({ tp, ...(await source.watermarks(tp)), committed: committed[i] })
  return positions
}

/**
 * Where reading a newly assigned partition starts: at its snapshot's offset, or at the log start to rebuild the state
 * from empty; never below the log start (retention may have passed a snapshot), which the broker would answer with
 * auto.offset.reset, and `latest` would then skip every record up to the end.
 */
export function readStartOf(position: { readonly low: number; readonly snapshotOffset: number | undefined }): number {
  return Math.max(position.low, position.snapshotOffset ?? position.low)
}
