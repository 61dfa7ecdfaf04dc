import type { CommitResult, PartitionedSource, TopicPartition } from '../core/ports.js'
import type { AckTracker } from './ack-tracker.js'

/** A commit whose answer has not come by then is taken as lost, and the next tick sends a new one. */
const ASYNC_COMMIT_TIMEOUT_MS = 10_000
/**
 * After a refusal that means "rebalance", commits wait for the next rebalance callback, but no longer than this:
 * when librdkafka rejoins and the member keeps its partitions, no callback may come at all.
 */
const REBALANCE_BLOCK_MS = 5_000

/** An owned partition as the committer sees it: how far its outputs are acknowledged and what is committed. */
export interface CommitTarget {
  readonly tp: TopicPartition
  readonly tracker: AckTracker
  lastCommitted: number
}

/**
 * Commits each partition up to its all-sinks-acknowledged offset. One non-blocking commit at a time, and none
 * while the broker reports a rebalance (up to REBALANCE_BLOCK_MS): a commit refused with ILLEGAL_GENERATION makes
 * librdkafka rejoin, so resending it every tick would keep the group rebalancing forever. `lastCommitted` only moves when the broker
 * confirms, so a commit refused during a rebalance is sent again on the next tick instead of being taken for done.
 */
export class OffsetCommitter {
  #asyncSentMs: number | undefined
  #blockedUntilMs = 0

  constructor(
    readonly source: PartitionedSource,
    readonly targetOf: (tp: TopicPartition) => CommitTarget | undefined,
    readonly onResult: (ok: boolean) => void = () => {},
  ) {}

  /** Call on every assignment or revocation: the rebalance that blocked commits is over. */
  rebalanceEnded(): void {
    this.#blockedUntilMs = 0
  }

  async commit(targets: Iterable<CommitTarget>, options: { sync: boolean }): Promise<void> {
    if (!options.sync) {
      const pendingMs = this.#asyncSentMs === undefined ? undefined : performance.now() - this.#asyncSentMs
      if (performance.now() < this.#blockedUntilMs || (pendingMs !== undefined && pendingMs < ASYNC_COMMIT_TIMEOUT_MS)) return
    }
    const offsets = [...targets].filter((t) => t.tracker.committable > t.lastCommitted).map((t) => ({ ...t.tp, offset: t.tracker.committable }))
    if (offsets.length === 0) return
    if (!options.sync) this.#asyncSentMs = performance.now()
    const accepted = await this.source.commit(offsets, { sync: options.sync })
    if (accepted && options.sync) this.onCommitted({ offsets })
  }

  /** The broker's answer to a commit (the source's `onCommitted`). */
  onCommitted(result: CommitResult): void {
    this.#asyncSentMs = undefined
    this.onResult(!result.error)
    if (result.rebalancing) this.#blockedUntilMs = performance.now() + REBALANCE_BLOCK_MS
    if (result.error) return
    for (const o of result.offsets) {
      const target = this.targetOf(o)
      if (target && o.offset >= 0) target.lastCommitted = Math.max(target.lastCommitted, o.offset)
    }
  }
}
