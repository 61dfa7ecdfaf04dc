import type { AggregatorProgress } from './lookup-aggregator.js'
import { sourceKindOf } from './lookup-facts.js'
import type { LookupRequirement } from './lookup-plan.js'

/** What this instance knows of a transactions partition it owns (and no longer restores): newer than its markers. */
export interface OwnedSource {
  /** The first offset this instance processed live; the facts below it were sent by a predecessor. */
  readonly liveFromOffset: number
  /** Every record below it went through the lookups stage (the stages before it are synchronous). */
  readonly nextOffset: number
  /** The partition's event-time watermark: a later transaction below it is late, and late ones send no fact. */
  readonly watermarkMs: number
  /** Whether a fact this instance sent for an offset above `offset` has an event time below `txMs`. */
  sentOlderAfter(offset: number, txMs: number): boolean
}

/** Local knowledge the completeness check of one transaction may use. */
export interface SourceKnowledge {
  owned(source: string): OwnedSource | undefined
  /**
   * The log end of a source's partition (transactions or labels), from a query sent after the transaction arrived;
   * undefined (and the caller asks the broker) when there is none that fresh.
   */
  freshLogEnd(source: string): number | undefined
}

/**
 * Whether one aggregator partition holds every transaction fact with an event time below `requirement.txMs` and every
 * label reported before `requirement.labelsMs`, judged per source from its marker in the partition's progress
 * ([source, watermarkMs, idle, throughOffset]) and from what this instance knows. An idle claim says "no record after
 * throughOffset"; it is only as true as it is fresh, so it counts only if a log end asked after the transaction
 * arrived confirms it (Kafka Streams' known zero lag, KIP-695, checked at the moment it matters). Records appended
 * before the transaction's own are then all known: exact as long as a producer's records reach the log in the order
 * it sent them, across partitions too. Labels are judged as another's transactions partition: a quiet labels
 * partition holds nothing back once the lookup group has read it to its end.
 *
 * | source                         | counts as                                                               |
 * | ------------------------------ | ----------------------------------------------------------------------- |
 * | no marker yet                  | −∞: the aggregator's own completeness says so (a fresh start waits)     |
 * | another's, not idle            | its watermark (every later fact is at or above it)                      |
 * | another's, idle through X      | +∞ if a fresh log end is ≤ X + 1, else its watermark                     |
 * | labels, idle through X, labels | as idle through X, but the oldest waiting label's reported_at instead    |
 * | waiting for their transaction  | of +∞ (X = readThroughOffset; throughOffset is the resume point)         |
 * | ours, marker through X         | min(oldest fact we sent after X, watermark now; +∞ instead of the       |
 * |                                | watermark if a fresh log end shows nothing we have not read)            |
 * | ours, marker before our start  | as another's: our predecessor's facts after X are not ours to know      |
 *
 * Worked example (delay one day, so a transaction at t needs every fact below t − 1 d):
 * | case                                               | tx on P1 at t         | P2                              |
 * | -------------------------------------------------- | --------------------- | ------------------------------- |
 * | quiet topic, kcat sends one tx to P1               | floor t ≥ t − 1 d     | idle through −1, log end 0: +∞  |
 * | backfill: P2's older records appended, not yet read | —                     | log end > next offset: watermark |
 * |                                                    |                       | −∞ < t − 1 d: P1's tx waits     |
 * | P2's old records read, facts sent, no marker yet   | —                     | floor (old) < t − 1 d: waits    |
 * | their marker in the table                          | released              | watermark or +∞                  |
 */
export function aggregatorCovers(
  progress: AggregatorProgress,
  requirement: LookupRequirement,
  knowledge: SourceKnowledge,
): boolean {
  const { txMs, labelsMs } = requirement
  // Some expected source has not reported (or reported −∞): only its next marker can tell more.
  if (txMs > -Infinity && progress.txMs === -Infinity) return false
  if (labelsMs > -Infinity && progress.labelsMs === -Infinity) return false
  // A bucket the aggregator holds back lies inside the window: only its next full publish brings it.
  if (txMs > (progress.heldFromMs ?? Infinity)) return false
  // No early return once a log end is wanted: every source that needs one is asked for in the same round.
  let covered = true
  for (const [source, watermarkMs, idle, throughOffset, heldFromMs, readThroughOffset] of progress.markers) {
    const kind = sourceKindOf(source)
    const neededMs = kind === 'tx' ? txMs : labelsMs
    if (neededMs === -Infinity) continue
    const owned = kind === 'tx' ? knowledge.owned(source) : undefined
    if (owned && throughOffset >= owned.liveFromOffset - 1) {
      if (owned.sentOlderAfter(throughOffset, txMs)) covered = false
      else if (owned.watermarkMs < txMs) {
        const logEnd = knowledge.freshLogEnd(source)
        if (logEnd === undefined || logEnd > owned.nextOffset) covered = false
      }
    } else if (watermarkMs < neededMs) {
      // Labels waiting for their transaction cap an idle claim at the oldest one's reported_at.
      const logEnd = idle && (heldFromMs ?? Infinity) >= neededMs ? knowledge.freshLogEnd(source) : undefined
      if (logEnd === undefined || logEnd > (readThroughOffset ?? throughOffset) + 1) covered = false
    }
  }
  return covered
}
