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
  /** Rounds of queries in flight at once, at most. */
  readonly maxRounds?: number
  /** The least time between the starts of two rounds. */
  readonly roundSpacingMs?: number
}

interface Round {
  readonly askedAtMs: number
  readonly partitions: ReadonlySet<number>
  listeners: (() => void)[]
}

/**
 * The source topic's log ends, queried on demand. A request is served by a round in flight only if that round was
 * sent at or after the time the requester cares about (an answer to an older query proves nothing about records
 * appended since); otherwise by a new round. A new round does not wait for the one in flight to end (a requester
 * arriving just after a round was sent would wait nearly two round trips): up to `maxRounds` overlap, started at least
 * `roundSpacingMs` apart, so under steady arrivals a request waits a round trip and at most the spacing more, and the
 * broker sees a bounded rate of queries. `askedAtMs` is taken before the queries go out, so each log end is at least
 * as of then; an answer never replaces one asked later.
 *
 * | t (ms) | event                        | rounds in flight (sent at) | served by          |
 * | ------ | ---------------------------- | -------------------------- | ------------------ |
 * | 10     | a asks since 10              | 10                         | the round of 10    |
 * | 11     | b asks since 11              | 10                         | next (spacing: 12) |
 * | 12     | spacing passed               | 10, 12                     | b: the round of 12 |
 * | 13     | the round of 10 answers      | 12                         | a answered         |
 */
export class LogEnds {
  readonly #ends = new Map<number, LogEnd>()
  readonly #inFlight: Round[] = []
  readonly #maxRounds: number
  readonly #spacingMs: number
  #next = new Set<number>()
  #nextListeners: (() => void)[] = []
  #timer: NodeJS.Timeout | undefined
  #closed = false

  constructor(readonly options: LogEndsOptions) {
    this.#maxRounds = options.maxRounds ?? 3
    this.#spacingMs = options.roundSpacingMs ?? 2
  }

  get(partition: number): LogEnd | undefined {
    return this.#ends.get(partition)
  }

  /** Answers for `partitions` from queries sent at or after `sinceMs`; `onAnswered` runs once they are in. */
  request(partitions: Iterable<number>, sinceMs: number, onAnswered: () => void): void {
    if (this.#closed) return
    const newest = this.#inFlight.at(-1)
    let later = false
    for (const p of partitions) {
      if (newest && newest.askedAtMs >= sinceMs && newest.partitions.has(p)) continue
      this.#next.add(p)
      later = true
    }
    if (later) this.#nextListeners.push(onAnswered)
    else if (newest) newest.listeners.push(onAnswered)
    this.#startRound()
  }

  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#nextListeners = []
    for (const round of this.#inFlight) round.listeners = []
  }

  #startRound(): void {
    if (this.#closed || this.#next.size === 0 || this.#timer || this.#inFlight.length >= this.#maxRounds) return
    const nowMs = this.options.clock.nowMs()
    const newest = this.#inFlight.at(-1)
    if (newest && nowMs - newest.askedAtMs < this.#spacingMs) {
      this.#timer = setTimeout(
        () => {
          this.#timer = undefined
          this.#startRound()
        },
        Math.ceil(newest.askedAtMs + this.#spacingMs - nowMs),
      )
      return
    }
    const round: Round = { askedAtMs: nowMs, partitions: this.#next, listeners: this.#nextListeners }
    this.#inFlight.push(round)
    this.#next = new Set()
    this.#nextListeners = []
    void this.#run(round)
  }

  async #run(round: Round): Promise<void> {
    await Promise.all([...round.partitions].map((partition) => this.#query(partition, round.askedAtMs)))
    this.#inFlight.splice(this.#inFlight.indexOf(round), 1)
    if (this.#closed) return
    for (const listener of round.listeners) listener()
    this.#startRound()
  }

  async #query(partition: number, askedAtMs: number): Promise<void> {
    try {
      const { high } = await this.options.watermarks({ topic: this.options.topic, partition })
      // Rounds overlap: one sent earlier may answer later, and must not replace a fresher answer.
      if ((this.#ends.get(partition)?.askedAtMs ?? -Infinity) <= askedAtMs)
        this.#ends.set(partition, { offset: high, askedAtMs })
    } catch (err) {
      // The previous answer stands: whoever waits for a fresher one waits on (within its own bound) and asks again.
      this.options.log.warn({ err, partition }, 'log end query failed; the previous answer stands')
    }
  }
}
