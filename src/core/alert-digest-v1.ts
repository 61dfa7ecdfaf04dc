import type { AlertSeverity, Decision, ModelRef } from './records.js'

/** One alert in a digest: what an analyst triages, and where it came from. */
export interface AlertDigestEntryV1 {
  readonly transaction_id: string
  readonly card_id: string
  readonly event_time: string
  readonly score: number
  readonly decision: Decision
  readonly severity: AlertSeverity
  /** A decline that would have gone out at once, moved here because immediate alerts exceeded their rate bound. */
  readonly degraded: boolean
  readonly amount: number
  readonly currency: string
  readonly terminal_id: string
  readonly country: string
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
  readonly model: ModelRef
  /** The source record's offset in `source.partition`. */
  readonly offset: number
}

/** The alerts of one merchant with one primary reason (an alert's first reason code), in offset order. */
export interface AlertDigestGroupV1 {
  readonly merchant_id: string
  readonly reason: string
  readonly count: number
  readonly amount: number
  readonly entries: readonly AlertDigestEntryV1[]
}

/**
 * An `alerts.digest` record (key = `<topic>:<partition>` of its source): the low-severity alerts of one source
 * partition's contiguous offset range, grouped by merchant and primary reason. Every field is a function of the
 * alerts it holds (no wall-clock time), so a digest sent again under the same `digest_id` is the same record.
 *
 * Delivery: at least once. A digest is sent again after a crash when its delivery was not acknowledged before the
 * crash (its offsets were not committed); the re-sent one may be cut at other offsets, so consumers dedupe entries by
 * `transaction_id` (or whole digests by `digest_id` when the offsets match).
 */
export interface AlertDigestV1 {
  /** `<topic>:<partition>:<first_offset>-<last_offset>`. */
  readonly digest_id: string
  readonly source: {
    readonly topic: string
    readonly partition: number
    /** The offsets of its first and last alert. */
    readonly first_offset: number
    readonly last_offset: number
  }
  /** The earliest and latest event_time of its alerts. */
  readonly from_event_time: string
  readonly to_event_time: string
  readonly alerts: number
  /** Entries that are declines moved here by the rate bound (`degraded`). */
  readonly degraded: number
  /** Sorted by merchant_id, then reason. */
  readonly groups: readonly AlertDigestGroupV1[]
}
