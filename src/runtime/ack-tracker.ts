import { ErrorCode, FraudstreamError } from '../core/errors.js'

/**
 * Per-partition contiguous acknowledgement watermark. Each consumed offset is registered with the number of sink
 * acks it needs (decision, alert, ClickHouse row, dead letter…); `committable` is one past the highest offset
 * below which every registered offset is fully acknowledged, i.e. the offset a consumer may commit.
 *
 * | registered (offset:acks) | acked      | committable |
 * | 10:2, 11:1, 12:2         | 11         | 10          |
 * | 10:2, 11:1, 12:2         | 11, 10, 10 | 12          |
 * | 10:2, 11:1, 12:2; abandonFrom(11) | 10, 10, 11, 12, 12 | 11 (in flight: 0) |
 */
export class AckTracker {
  /** Offsets in registration (= offset) order with acks still owed; done entries are popped from the front. */
  readonly #offsets: number[] = []
  readonly #owed = new Map<number, number>()
  #head = 0
  #committable: number
  /** Offsets from here on are given up (abandonFrom): never acknowledged, never committable. */
  #abandonedFrom = Number.POSITIVE_INFINITY

  constructor(startOffset: number) {
    this.#committable = startOffset
  }

  get committable(): number {
    return this.#committable
  }

  get inFlight(): number {
    return this.#offsets.length - this.#head
  }

  /** Offsets must be registered in increasing order; `acks` may be 0 for records that need no sink. */
  register(offset: number, acks: number): void {
    if (offset >= this.#abandonedFrom) return
    const last = this.#offsets[this.#offsets.length - 1]
    if ((last !== undefined && offset <= last) || offset < this.#committable) {
      throw new FraudstreamError(
        ErrorCode.internal,
        `offset ${offset} registered out of order (last ${last ?? 'none'}, committable ${this.#committable})`,
        'internal',
      )
    }
    this.#offsets.push(offset)
    this.#owed.set(offset, acks)
    if (acks === 0) this.#advance()
  }

  /** One more ack for `offset`, once its sink has acknowledged it. */
  ack(offset: number): void {
    if (offset >= this.#abandonedFrom) return
    const owed = this.#owed.get(offset)
    if (owed === undefined || owed === 0)
      throw new FraudstreamError(ErrorCode.internal, `unexpected ack for offset ${offset}`, 'internal')
    this.#owed.set(offset, owed - 1)
    if (owed === 1) this.#advance()
  }

  /** Adds acks owed by an offset that is still registered (e.g. an alert decided after registration). */
  expect(offset: number, more: number): void {
    if (offset >= this.#abandonedFrom) return
    const owed = this.#owed.get(offset)
    if (owed === undefined || owed === 0)
      throw new FraudstreamError(ErrorCode.internal, `cannot add acks to finished offset ${offset}`, 'internal')
    this.#owed.set(offset, owed + more)
  }

  /**
   * Gives up `offset` and every later one, acknowledged or not, registered or to come: they leave `inFlight`, and
   * `committable` stays at or below `offset` for good, so the next owner of the partition processes them again.
   * For a partition being drained whose oldest records wait on something a drain must not wait for (a label whose
   * transaction is not known yet); their acks arriving later are ignored.
   */
  abandonFrom(offset: number): void {
    if (offset < this.#committable) {
      throw new FraudstreamError(
        ErrorCode.internal,
        `cannot abandon offset ${offset}: offsets up to ${this.#committable - 1} are acknowledged`,
        'internal',
      )
    }
    this.#abandonedFrom = Math.min(this.#abandonedFrom, offset)
    while (this.#offsets.length > this.#head && this.#offsets[this.#offsets.length - 1]! >= this.#abandonedFrom)
      this.#owed.delete(this.#offsets.pop()!)
  }

  #advance(): void {
    while (this.#head < this.#offsets.length) {
      const offset = this.#offsets[this.#head]!
      if (this.#owed.get(offset) !== 0) break
      this.#owed.delete(offset)
      this.#committable = offset + 1
      this.#head++
    }
    // Compact now and then instead of shifting per ack: shift() on a large array is O(n).
    if (this.#head > 4096 && this.#head * 2 > this.#offsets.length) {
      this.#offsets.splice(0, this.#head)
      this.#head = 0
    }
  }
}
