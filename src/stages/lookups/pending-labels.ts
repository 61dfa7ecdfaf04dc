import type { Label } from '../../core/label-v1.js'
import type { TransactionAttributes } from '../../core/ports.js'

interface Pending {
  readonly offset: number
  readonly label: Label
  /** When it started waiting (performance.now()). */
  readonly sinceMs: number
}

/**
 * The labels of one `labels` partition that wait for their transaction's attributes (LabelRouter's `attribute`),
 * and what the partition may claim while they wait.
 *
 * A label waiting is on time but not applied yet, so its partition must claim neither that every label reported
 * before some time above its `reported_at` is in the tables (a transaction that needs it would be scored without
 * it) nor that every offset up to it is (a new owner resuming there, or a commit past it, would lose it). So the
 * marker says watermark = min(router's watermark, H) with H the oldest reported_at waiting, through = the oldest
 * offset waiting − 1 (where a new owner resumes), and, once the partition is read to its end, idle with
 * heldFromMs = H and readThroughOffset = the last offset read: a reader that confirms the idle claim by a fresh log
 * end counts the partition complete below H instead of +∞. The committed offset stops at the oldest offset waiting,
 * which a drain gives up rather than waits for (AckTracker.abandonFrom). A transaction needs the labels reported
 * before its cutoff C = floor((t − labelLagMs) / R) · R, so only those with C above H wait, and a label's own
 * transaction (t ≤ reported_at, labelLagMs > 0) never waits for it: the idle claim keeps a label reported at its
 * transaction's time (lag 0) from holding back a transaction read before its own, later in event time. One case
 * remains: a label of a transaction its partition read late (more than the allowed lateness older than one read
 * before it), reported before that newer transaction's cutoff. The newer one waits for the label, the label for its
 * transaction's score, which comes after the newer one's: it ends when the newer one is scored after
 * lookups.maxWaitMs and counted stale (a warning names it), or the label expires first.
 *
 * Worked example (lateness 1; times in minutes; "id only" = without the transaction's fields; the partition is
 * read to its end after each row):
 * | event                                       | router wm | waiting  | marker (wm, through, idle/held)  | committable |
 * | ------------------------------------------- | --------- | -------- | -------------------------------- | ----------- |
 * | offset 7, r = 100, full: facts sent, acked  | 99        | —        | 99, 7, idle                      | 8           |
 * | offset 8, r = 101, id only                  | 100       | 8 (101)  | 100, 7, idle through 8 below 101 | 8           |
 * | offset 9, r = 103, full: facts sent, acked  | 102       | 8 (101)  | 101, 7, idle through 9 below 101 | 8           |
 * | 8's transaction found: facts sent, acked    | 102       | —        | 102, 9, idle                     | 10          |
 * | offset 10, r = 104, id only, never found    | 103       | 10 (104) | 103, 9, idle through 10 below 104 | 10         |
 * | revoked now: 10 given up, 10 committed      | the next owner resumes at 10 with wm 103: 10 is on time and waits again |
 * | or attributionTimeoutMs passed: counted, logged, acked | 103 | —   | 103, 10, idle                    | 11          |
 *
 * The published watermark never goes back: a label starts waiting only when on time (reported_at ≥ the router's
 * watermark, which only rises), so the oldest reported_at waiting stays at or above every watermark published
 * before. A new owner resuming from (wm, through) calls late only labels reported before wm: none of them waits
 * (all are at or above wm), and the labels after `through` that the predecessor applied are applied again,
 * which the aggregators recognise by their source offset. The labels are taken in any order: a label's fact is
 * idempotent by its own position, unlike a transaction's, so a late attribution does not disturb its neighbours.
 */
export class PendingLabels {
  /** By offset, in offset order (Map keeps insertion order and labels are added in offset order). */
  readonly #byOffset = new Map<number, Pending>()

  get size(): number {
    return this.#byOffset.size
  }

  add(offset: number, label: Label, sinceMs: number): void {
    this.#byOffset.set(offset, { offset, label, sinceMs })
  }

  /** The transaction ids waiting, once each. */
  ids(): string[] {
    return [...new Set(Array.from(this.#byOffset.values(), (p) => p.label.transaction_id))]
  }

  /** The oldest offset waiting; undefined when none waits. */
  get firstOffset(): number | undefined {
    for (const offset of this.#byOffset.keys()) return offset
    return undefined
  }

  /** The earliest reported_at waiting; +∞ when none waits. */
  get oldestReportedMs(): number {
    let oldest = Number.POSITIVE_INFINITY
    for (const { label } of this.#byOffset.values()) if (label.reportedAtMs < oldest) oldest = label.reportedAtMs
    return oldest
  }

  /**
   * The marker the partition may send (see the class comment): everything read when none waits; `nextOffset` is
   * the next offset to read, `routerWatermarkMs` the router's, `caughtUp` whether it has read its log end.
   */
  marker(
    routerWatermarkMs: number,
    nextOffset: number,
    caughtUp: boolean,
  ): {
    watermarkMs: number
    idle: boolean
    throughOffset: number
    heldFromMs?: number
    readThroughOffset?: number
  } {
    const first = this.firstOffset
    if (first === undefined) return { watermarkMs: routerWatermarkMs, idle: caughtUp, throughOffset: nextOffset - 1 }
    const heldFromMs = this.oldestReportedMs
    return {
      watermarkMs: Math.min(routerWatermarkMs, heldFromMs),
      idle: caughtUp,
      throughOffset: first - 1,
      heldFromMs,
      readThroughOffset: nextOffset - 1,
    }
  }

  /**
   * Takes the labels whose transaction `found` knows, and those that waited `timeoutMs` or longer since they were
   * added (their transaction not found in time); the others keep waiting.
   */
  settle(
    found: ReadonlyMap<string, TransactionAttributes>,
    nowMs: number,
    timeoutMs: number,
  ): {
    attributed: { offset: number; label: Label; attributes: TransactionAttributes }[]
    expired: { offset: number; label: Label }[]
  } {
    const attributed: { offset: number; label: Label; attributes: TransactionAttributes }[] = []
    const expired: { offset: number; label: Label }[] = []
    for (const [offset, pending] of this.#byOffset) {
      const attributes = found.get(pending.label.transaction_id)
      if (attributes) attributed.push({ offset, label: pending.label, attributes })
      else if (nowMs - pending.sinceMs >= timeoutMs) expired.push({ offset, label: pending.label })
      else continue
      this.#byOffset.delete(offset)
    }
    return { attributed, expired }
  }
}
