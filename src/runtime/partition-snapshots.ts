import { ErrorCode, FraudstreamError } from '../core/errors.js'
import { pack, unpack } from 'msgpackr'
import type { Logger } from 'pino'
import type { SnapshotStore, TopicPartition } from '../core/ports.js'
import type { Stage } from '../core/stage.js'

/** A partition's state after every record below `offset`: each stateful stage's part, under the stage's name. */
export interface PartitionSnapshot {
  readonly version: 4
  readonly topology: string
  /** State computed under other definitions or settings would give other outputs: such snapshots are passed over. */
  readonly fingerprint: string
  readonly offset: number
  readonly stages: Readonly<Record<string, unknown>>
}

/**
 * Writes and restores the partition state of a topology's stages as one snapshot record (msgpack), so the state of
 * every stage covers the same offset. The codec of each part lives beside the state it encodes, in its stage.
 */
export class PartitionSnapshots {
  readonly fingerprint: string
  readonly #stateful: readonly Stage<unknown, unknown>[]

  constructor(
    readonly options: {
      readonly store: SnapshotStore
      readonly topology: string
      readonly stages: readonly Stage<unknown, unknown>[]
      readonly log: Logger
    },
  ) {
    this.fingerprint = options.stages.map((s) => `${s.name}=${s.fingerprint ?? ''}`).join(';')
    this.#stateful = options.stages.filter((s) => s.snapshot)
  }

  /**
   * Takes every stage's state now (synchronously, so no record slips in between) and stores it; resolves the bytes
   * written. The snapshot only becomes usable once the committed offset reaches `offset`.
   */
  save(tp: TopicPartition, offset: number, committedOffset: number): Promise<number> {
    const stages: Record<string, unknown> = {}
    for (const stage of this.#stateful) stages[stage.name] = stage.snapshot!(tp)
    const record: PartitionSnapshot = {
      version: 4,
      topology: this.options.topology,
      fingerprint: this.fingerprint,
      offset,
      stages,
    }
    const bytes = pack(record)
    return this.options.store.save(tp, offset, bytes, committedOffset).then(() => bytes.length)
  }

  /**
   * Restores each stateful stage from the newest usable snapshot at or below `maxOffset`. A snapshot of other
   * settings, or one that cannot be read or loaded, is passed over for the one before it: replaying further costs
   * time, a partition left unassigned costs every record. Errors of the store itself are not caught: the member
   * fails, and a restart tries again.
   */
  async restore(
    tp: TopicPartition,
    maxOffset: number,
    onSkipped: () => void,
  ): Promise<{ offset: number; parts: Set<string> } | undefined> {
    const { store, log } = this.options
    for (let below = maxOffset; ;) {
      const found = await store.loadLatest(tp, below)
      if (!found) return undefined
      try {
        const snapshot = unpack(found.bytes) as PartitionSnapshot
        if (
          snapshot.version === 4 &&
          snapshot.topology === this.options.topology &&
          snapshot.offset === found.offset &&
          snapshot.fingerprint === this.fingerprint
        ) {
          await this.#load(tp, snapshot)
          return { offset: snapshot.offset, parts: new Set(this.#stateful.map((s) => s.name)) }
        }
        log.warn(
          { partition: tp.partition, offset: found.offset },
          'snapshot made with other feature definitions or settings; trying an older one',
        )
      } catch (err) {
        log.warn({ err, partition: tp.partition, offset: found.offset }, 'unusable snapshot; trying an older one')
      }
      onSkipped()
      below = found.offset - 1
    }
  }

  /** All stages or none: one that fails leaves no stage holding state of the snapshot it could not load. */
  async #load(tp: TopicPartition, snapshot: PartitionSnapshot): Promise<void> {
    try {
      for (const stage of this.#stateful) {
        if (!(stage.name in snapshot.stages))
          throw new FraudstreamError(ErrorCode.internal, `no state for stage ${stage.name}`, 'internal')
        await stage.restore!(tp, snapshot.stages[stage.name])
      }
    } catch (err) {
      for (const stage of this.#stateful) stage.release?.(tp)
      throw err
    }
  }
}
