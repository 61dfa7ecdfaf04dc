import type { AlertDigestEntryV1, AlertDigestGroupV1, AlertDigestV1 } from '../../core/alert-digest-v1.js'
import type { AlertV1 } from '../../core/records.js'
import type { TopicPartition } from '../../core/ports.js'
import { partitionKey } from '../../core/stage.js'

export interface DigestLimits {
  /** A digest is cut this long after its first alert arrived (Clock.nowMs). */
  readonly intervalMs: number
  /** A digest is cut when it holds this many alerts. */
  readonly maxAlerts: number
  /**
   * Open digests are cut, widest first, while the offsets they hold back add up to this many: an open digest holds
   * its partition's commit at its first alert, and every offset after it counts as in flight (runtime.maxInFlight).
   */
  readonly maxOffsetSpan: number
}

/** A digest cut from the buffer, with the acknowledgements its alerts' source offsets wait for. */
export interface CutDigest {
  readonly digest: AlertDigestV1
  readonly acks: readonly (() => void)[]
}

interface OpenDigest {
  readonly tp: TopicPartition
  readonly openedAtMs: number
  readonly entries: AlertDigestEntryV1[]
  readonly merchants: string[]
  readonly acks: (() => void)[]
  /** The latest offset of its partition seen (the partition's commit waits at its first alert meanwhile). */
  seenOffset: number
}

function spanOf(open: OpenDigest): number {
  return open.seenOffset - open.entries[0]!.offset
}

/**
 * Low-severity alerts collected into one open digest per source partition, cut by time, size or offset span:
 *
 * | limits (interval, maxAlerts, span) | alerts added (offset @ ms)   | digests cut                          |
 * | ---------------------------------- | ---------------------------- | ------------------------------------ |
 * | 1000, 3, 10000                     | 5@0, 9@10, 12@20             | [5, 9, 12] when 12 arrives (size)    |
 * | 1000, 3, 10000                     | 5@0, 9@10; due(1000)         | [5, 9] at 1000 (interval)            |
 * | 1000, 3, 100                       | 5@0; 120 seen at 30          | [5] at 30 (span)                     |
 * | 1000, 3, 100                       | p0 5@0, p1 7@0; p0 60, p1 60 | p0's [5] (widest; spans 55 + 53)     |
 *
 * One partition's digests cover disjoint, increasing offset ranges, so an alert is in exactly one digest.
 */
export class DigestBuffer {
  readonly #open = new Map<string, OpenDigest>()

  constructor(readonly limits: DigestLimits) {}

  /** Alerts waiting in open digests. */
  get pending(): number {
    let n = 0
    for (const d of this.#open.values()) n += d.entries.length
    return n
  }

  /**
   * Adds an alert of source offset `offset` (offsets of a partition in increasing order); `ack` is called once its
   * digest is acknowledged. Returns the digest when this alert filled it.
   */
  add(
    tp: TopicPartition,
    offset: number,
    alert: AlertV1,
    options: { readonly degraded: boolean; readonly nowMs: number; readonly ack: () => void },
  ): CutDigest | undefined {
    const key = partitionKey(tp)
    let open = this.#open.get(key)
    if (!open) {
      open = {
        tp: { topic: tp.topic, partition: tp.partition },
        openedAtMs: options.nowMs,
        entries: [],
        merchants: [],
        acks: [],
        seenOffset: offset,
      }
      this.#open.set(key, open)
    }
    open.entries.push(entryOf(alert, offset, options.degraded))
    open.seenOffset = Math.max(open.seenOffset, offset)
    open.merchants.push(alert.merchant_id)
    open.acks.push(options.ack)
    return open.entries.length >= this.limits.maxAlerts ? this.#cut(key, open) : undefined
  }

  /**
   * Records that `tp` reached `offset`; returns the open digests cut because the offsets they hold back, summed over
   * every partition (from each digest's first alert to its partition's latest offset), reached `maxOffsetSpan`: the
   * widest first.
   */
  seen(tp: TopicPartition, offset: number): CutDigest[] {
    const open = this.#open.get(partitionKey(tp))
    if (open) open.seenOffset = Math.max(open.seenOffset, offset)
    const cut: CutDigest[] = []
    let held = 0
    for (const d of this.#open.values()) held += d.seenOffset - d.entries[0]!.offset
    while (held >= this.limits.maxOffsetSpan && this.#open.size > 0) {
      let widest: [string, OpenDigest] | undefined
      for (const entry of this.#open) if (!widest || spanOf(entry[1]) > spanOf(widest[1])) widest = entry
      held -= spanOf(widest![1])
      cut.push(this.#cut(widest![0], widest![1]))
    }
    return cut
  }

  /** The digests opened at least `intervalMs` before `nowMs`. */
  due(nowMs: number): CutDigest[] {
    const cut: CutDigest[] = []
    for (const [key, open] of this.#open)
      if (nowMs - open.openedAtMs >= this.limits.intervalMs) cut.push(this.#cut(key, open))
    return cut
  }

  /** Every open digest of `tp`, or of every partition: a revocation or a stop drains them. */
  cutAll(tp?: TopicPartition): CutDigest[] {
    const cut: CutDigest[] = []
    for (const [key, open] of this.#open) if (!tp || key === partitionKey(tp)) cut.push(this.#cut(key, open))
    return cut
  }

  /** Forgets `tp`'s open digest unsent: the partition is gone, and its next owner alerts from its committed offset. */
  drop(tp: TopicPartition): void {
    this.#open.delete(partitionKey(tp))
  }

  #cut(key: string, open: OpenDigest): CutDigest {
    this.#open.delete(key)
    return { digest: digestOf(open.tp, open.entries, open.merchants), acks: open.acks }
  }
}

/**
 * The digest of one partition's entries (in offset order; `merchants[i]` is entry i's merchant): grouped by merchant
 * and primary reason, groups sorted by merchant then reason, entries in offset order within a group.
 */
export function digestOf(
  tp: TopicPartition,
  entries: readonly AlertDigestEntryV1[],
  merchants: readonly string[],
): AlertDigestV1 {
  const groups = new Map<
    string,
    { merchant_id: string; reason: string; amount: number; entries: AlertDigestEntryV1[] }
  >()
  let fromMs = Infinity
  let toMs = -Infinity
  let degraded = 0
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const merchant = merchants[i]!
    const reason = entry.reasons[0] ?? 'none'
    const key = `${merchant}\u0000${reason}`
    let group = groups.get(key)
    if (!group) groups.set(key, (group = { merchant_id: merchant, reason, amount: 0, entries: [] }))
    group.entries.push(entry)
    group.amount += entry.amount
    const ms = Date.parse(entry.event_time)
    if (ms < fromMs) fromMs = ms
    if (ms > toMs) toMs = ms
    if (entry.degraded) degraded++
  }
  const first = entries[0]!.offset
  const last = entries[entries.length - 1]!.offset
  return {
    digest_id: `${tp.topic}:${tp.partition}:${first}-${last}`,
    source: { topic: tp.topic, partition: tp.partition, first_offset: first, last_offset: last },
    from_event_time: new Date(fromMs).toISOString(),
    to_event_time: new Date(toMs).toISOString(),
    alerts: entries.length,
    degraded,
    groups: [...groups.values()]
      .sort((a, b) => compare(a.merchant_id, b.merchant_id) || compare(a.reason, b.reason))
      .map((g): AlertDigestGroupV1 => ({
        merchant_id: g.merchant_id,
        reason: g.reason,
        count: g.entries.length,
        amount: roundCents(g.amount),
        entries: g.entries,
      })),
  }
}

/** The digest entry of an alert: its decision without the wall-clock fields (decided_at, latency_ms). */
function entryOf(alert: AlertV1, offset: number, degraded: boolean): AlertDigestEntryV1 {
  return {
    transaction_id: alert.transaction_id,
    card_id: alert.card_id,
    event_time: alert.event_time,
    score: alert.score,
    decision: alert.decision,
    severity: alert.severity,
    degraded,
    amount: alert.amount,
    currency: alert.currency,
    terminal_id: alert.terminal_id,
    country: alert.country,
    reasons: alert.reasons,
    rules: alert.rules,
    model: alert.model,
    offset,
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** Sums of amounts in major units: float addition order would otherwise show in the last digits. */
function roundCents(amount: number): number {
  return Math.round(amount * 100) / 100
}
