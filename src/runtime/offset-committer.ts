import type { CommitResult, PartitionedSource, TopicPartition } from '../core/ports.js'
import type { AckTracker } from './ack-tracker.js'
import { waitUntil } from './wait-until.js'

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
  /** Rebalance callbacks seen: a final commit refused mid-rebalance waits for the next one. */
  #rebalances = 0

  /** When the last commit was sent (performance.now()), for its round trip. */
  #sentAtMs = 0

  constructor(
    readonly source: PartitionedSource,
    readonly targetOf: (tp: TopicPartition) => CommitTarget | undefined,
    readonly onResult: (ok: boolean) => void = () => {},
    /** A confirmed commit: how long since it was sent, and how many offsets it moved on. */
    readonly onTimed: (ms: number, records: number) => void = () => {},
  ) {}

  /** Call on every assignment or revocation: the rebalance that blocked commits is over. */
  rebalanceEnded(): void {
    this.#blockedUntilMs = 0
    this.#rebalances++
  }

  /**
   * Resolves false when a synchronous commit was refused (the group is rebalancing, or the source left it), or an
   * asynchronous one was not sent; true otherwise, also when there was nothing to commit.
   */
  async commit(targets: Iterable<CommitTarget>, options: { sync: boolean }): Promise<boolean> {
    if (!options.sync) {
      const pendingMs = this.#asyncSentMs === undefined ? undefined : performance.now() - this.#asyncSentMs
      if (performance.now() < this.#blockedUntilMs || (pendingMs !== undefined && pendingMs < ASYNC_COMMIT_TIMEOUT_MS))
        return false
    }
    const offsets = [...targets]
      .filter((t) => t.tracker.committable > t.lastCommitted)
      .map((t) => ({ ...t.tp, offset: t.tracker.committable }))
    if (offsets.length === 0) return true
    this.#sentAtMs = performance.now()
    if (!options.sync) this.#asyncSentMs = this.#sentAtMs
    const accepted = await this.source.commit(offsets, { sync: options.sync })
    if (accepted && options.sync) this.onCommitted({ offsets })
    return accepted
  }

  /**
   * The last commit of a member about to leave the group, after it drained. When the group refuses it because a
   * rebalance is under way (a member joined or left while this one drained), it is sent again after each rebalance
   * callback of this member (a cooperative rebalance has two rounds), until accepted or `timeoutMs` has passed:
   * given up, the next owners would process live again every record since the previous commit. Not sooner: a
   * refused commit makes librdkafka rejoin. `targets` is read at each try, as a revocation in between commits and
   * removes its partitions. Resolves whether everything got committed.
   */
  async commitBeforeLeaving(targets: () => Iterable<CommitTarget>, timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs
    for (;;) {
      const rebalances = this.#rebalances
      if (await this.commit(targets(), { sync: true })) return true
      if (!(await waitUntil(() => this.#rebalances !== rebalances, deadline - performance.now()))) return false
    }
  }

  /** The broker's answer to a commit (the source's `onCommitted`). */
  onCommitted(result: CommitResult): void {
    this.#asyncSentMs = undefined
    this.onResult(!result.error)
    if (result.rebalancing) this.#blockedUntilMs = performance.now() + REBALANCE_BLOCK_MS
    if (result.error) return
    let records = 0
    for (const o of result.offsets) {
      const target = this.targetOf(o)
      if (!target || o.offset < 0) continue
      // The first commit of a partition moves from −1 (none): its records are not counted, they were not timed.
      if (target.lastCommitted >= 0) records += Math.max(0, o.offset - target.lastCommitted)
      target.lastCommitted = Math.max(target.lastCommitted, o.offset)
    }
    if (records > 0) this.onTimed(performance.now() - this.#sentAtMs, records)
  }
}
