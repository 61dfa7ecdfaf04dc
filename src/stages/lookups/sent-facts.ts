/**
 * The transactions of one owned partition whose facts this instance sent and not every aggregator has confirmed
 * yet (a marker through their offset in its progress): until then a table may lack them, whatever idle claim it
 * holds for the partition. Offsets ascend; event times need not.
 */
export class SentFacts {
  #offsets: number[] = []
  #eventTimesMs: number[] = []
  /** The oldest of them all: a check against a requirement below it needs no scan (the live case). */
  #minMs = Infinity

  get size(): number {
    return this.#offsets.length
  }

  add(offset: number, eventTimeMs: number): void {
    this.#offsets.push(offset)
    this.#eventTimesMs.push(eventTimeMs)
    this.#minMs = Math.min(this.#minMs, eventTimeMs)
  }

  /** Whether a fact sent for an offset above `offset` has an event time below `txMs`. */
  hasOlderAfter(offset: number, txMs: number): boolean {
    if (this.#minMs >= txMs) return false
    for (let i = this.#offsets.length - 1; i >= 0 && this.#offsets[i]! > offset; i--)
      if (this.#eventTimesMs[i]! < txMs) return true
    return false
  }

  /** Every aggregator has applied the facts through `offset`. */
  confirm(offset: number): void {
    let drop = 0
    while (drop < this.#offsets.length && this.#offsets[drop]! <= offset) drop++
    if (drop === 0) return
    this.#offsets = this.#offsets.slice(drop)
    this.#eventTimesMs = this.#eventTimesMs.slice(drop)
    this.#minMs = this.#eventTimesMs.reduce((min, t) => Math.min(min, t), Infinity)
  }
}
