import type { Logger } from 'pino'
import type { Clock } from '../core/clock.js'
import type { TopicPartition } from '../core/ports.js'
import type { LogEnd } from '../core/stage.js'

export interface LogEndsOptions {
  readonly topic: string
  /** The broker's answer for one partition (PartitionedSource.watermarks). */
  readonly watermarks: (tp: TopicPartition) => Promise<{ low: number; high: number }>
  readonly clock: Clock
  readonly log: Logger
}

interface Round {
  readonly askedAtMs: number
  readonly partitions: ReadonlySet<number>
  listeners: (() => void)[]
}

/**
 * The source topic's log ends, queried on demand, one round of queries at a time. A request is served by the round
 * in flight only if that round was sent at or after the time the requester cares about (an answer to an older query
 * proves nothing about records appended since); otherwise by the next round, which starts when this one ends.
 * `askedAtMs` is taken before the queries go out, so each log end is at least as of then.
 */
export class LogEnds {
  readonly #ends = new Map<number, LogEnd>()
  #current: Round | undefined
  #next = new Set<number>()
  #nextListeners: (() => void)[] = []
  #closed = false

  constructor(readonly options: LogEndsOptions) {}

  get(partition: number): LogEnd | undefined {
    return this.#ends.get(partition)
  }

  /** Answers for `partitions` from queries sent at or after `sinceMs`; `onAnswered` runs once they are in. */
  request(partitions: Iterable<number>, sinceMs: number, onAnswered: () => void): void {
    if (this.#closed) return
    const current = this.#current
    let later = false
    for (const p of partitions) {
      if (current && current.askedAtMs >= sinceMs && current.partitions.has(p)) continue
      this.#next.add(p)
      later = true
    }
    if (later) this.#nextListeners.push(onAnswered)
    else if (current) current.listeners.push(onAnswered)
    if (!current && this.#next.size > 0) void this.#rounds()
  }

  close(): void {
    this.#closed = true
    this.#nextListeners = []
    if (this.#current) this.#current.listeners = []
  }

  async #rounds(): Promise<void> {
    while (this.#next.size > 0 && !this.#closed) {
      const round: Round = {
        askedAtMs: this.options.clock.nowMs(),
        partitions: this.#next,
        listeners: this.#nextListeners,
      }
      this.#current = round
      this.#next = new Set()
      this.#nextListeners = []
      await Promise.all([...round.partitions].map((partition) => this.#query(partition, round.askedAtMs)))
      this.#current = undefined
      if (!this.#closed) for (const listener of round.listeners) listener()
    }
  }

  async #query(partition: number, askedAtMs: number): Promise<void> {
    try {
      const { high } = await this.options.watermarks({ topic: this.options.topic, partition })
      this.#ends.set(partition, { offset: high, askedAtMs })
    } catch (err) {
      // The previous answer stands: whoever waits for a fresher one waits on (within its own bound) and asks again.
      this.options.log.warn({ err, partition }, 'log end query failed; the previous answer stands')
    }
  }
}
