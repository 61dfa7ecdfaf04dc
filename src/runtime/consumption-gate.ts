import type { Logger } from 'pino'
import type { PartitionedSource, TopicPartition } from '../core/ports.js'

export interface ConsumptionGateOptions {
  /** The member's name, for logs. */
  readonly name: string
  readonly source: Pick<PartitionedSource, 'pause' | 'resume'>
  /** The partitions owned now, by partitionKey. */
  readonly owned: () => ReadonlyMap<string, { readonly tp: TopicPartition }>
  /** Records awaiting sinks now. */
  readonly inFlight: () => number
  /** Records awaiting sinks before the partitions pause; they resume below half of it. */
  readonly maxInFlight: number
  readonly onPaused?: ((paused: boolean, inFlight: number) => void) | undefined
  readonly log: Logger
}

/**
 * Whether a member fetches: backpressure pauses every owned partition while too many records wait for sinks and
 * resumes below half the bound; an operator's hold (`POST /v1/admin/pause`) pauses them whatever the count, until it
 * is released, and backpressure leaves held partitions alone.
 */
export class ConsumptionGate {
  #paused = false
  #held = false
  /** Partitions paused by the hold; one assigned while held joins at the next `apply`. */
  readonly #heldPartitions = new Set<string>()

  constructor(readonly options: ConsumptionGateOptions) {}

  get held(): boolean {
    return this.#held
  }

  /** Runs on every tick and after each assignment. */
  apply(): void {
    const { source, maxInFlight } = this.options
    if (this.#held) {
      // A partition assigned while held is paused on the next tick; librdkafka refuses to pause it before its assign.
      const fresh = [...this.options.owned().entries()].filter(([key]) => !this.#heldPartitions.has(key))
      if (fresh.length > 0) {
        source.pause(fresh.map(([, p]) => p.tp))
        for (const [key] of fresh) this.#heldPartitions.add(key)
      }
      return
    }
    const inFlight = this.options.inFlight()
    const owned = [...this.options.owned().values()].map((p) => p.tp)
    if (!this.#paused && inFlight > maxInFlight) {
      source.pause(owned)
      this.#paused = true
      this.options.onPaused?.(true, inFlight)
      this.options.log.debug({ inFlight }, 'source paused for backpressure')
    } else if (this.#paused && inFlight <= maxInFlight / 2) {
      source.resume(owned)
      this.#paused = false
      this.options.onPaused?.(false, inFlight)
    } else this.options.onPaused?.(this.#paused, inFlight)
  }

  /** A revoked partition leaves the hold's set (a later owner of it starts unpaused unless held again). */
  forget(key: string): void {
    this.#heldPartitions.delete(key)
  }

  /** The operator's pause; false when already held. */
  hold(): boolean {
    if (this.#held) return false
    this.#held = true
    this.#heldPartitions.clear()
    this.apply()
    this.options.log.info({ member: this.options.name, partitions: this.#heldPartitions.size }, 'consumption paused')
    return true
  }

  /** Resumes what `hold` paused; backpressure then applies as before. False when not held. */
  release(): boolean {
    if (!this.#held) return false
    this.#held = false
    const owned = [...this.options.owned().entries()].filter(([key]) => this.#heldPartitions.has(key))
    this.#heldPartitions.clear()
    this.options.source.resume(owned.map(([, p]) => p.tp))
    // Backpressure starts afresh: its own pause, if it had one, was lifted above and is re-applied if still due.
    this.#paused = false
    this.apply()
    this.options.log.info({ member: this.options.name }, 'consumption resumed')
    return true
  }
}
