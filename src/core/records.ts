/** Where a record came from; every output carries it so acks can be traced back to a source offset. */
export interface SourcePosition {
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

export const DeadLetterReason = {
  empty: 'empty',
  tooLarge: 'too_large',
  malformed: 'malformed',
  missingField: 'missing_field',
  wrongType: 'wrong_type',
  unknownEnum: 'unknown_enum',
  panInCardId: 'pan_in_card_id',
  invalidValue: 'invalid_value',
  /** event_time further ahead of the record's Kafka timestamp than decode.maxEventTimeAheadMs (see PartitionState.decode). */
  eventTimeAhead: 'event_time_ahead',
} as const
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason]

/** A `transactions.dlq` record. `raw` is base64 of the input bytes with PAN-looking digit runs masked. */
export interface DeadLetter {
  readonly reason: DeadLetterReason
  readonly stage: string
  readonly error: { readonly code: string; readonly message: string }
  readonly raw: string
  readonly raw_size_bytes: number
  readonly raw_truncated: boolean
  readonly topic: string
  readonly partition: number
  readonly offset: number
}

export const Decision = { approve: 'approve', review: 'review', decline: 'decline' } as const
export type Decision = (typeof Decision)[keyof typeof Decision]

export interface ModelRef {
  readonly name: string
  readonly version: string
}

/** Decision v1, the contract of the `decisions` topic (DESIGN.md §3). */
export interface DecisionV1 {
  readonly transaction_id: string
  readonly card_id: string
  readonly event_time: string
  readonly decided_at: string
  readonly score: number
  readonly decision: Decision
  readonly reasons: readonly string[]
  readonly rules: readonly string[]
  /**
   * The rules and lists the decision was made with: a content hash of every rule and list entry the instance held
   * (src/rules/rules-state.ts), the same on every instance that read the same topics. Absent where no rules run (replay).
   */
  readonly rules_version?: string
  /** The model that decided (the champion, or the challenger for its arm); a fallback names the champion that failed. */
  readonly model: ModelRef
  /** Every other model's score for this transaction: shadows, and the champion or challenger of the other arm. */
  readonly shadow?: readonly { name: string; version: string; role: string; score: number }[]
  /** While a challenger runs: the card's arm of the A/B split. */
  readonly arm?: 'champion' | 'challenger'
  /** The deciding model's largest feature contributions to its margin (log-odds), largest magnitude first. */
  readonly explanation?: readonly { feature: string; contribution: number }[]
  /** With infer.tiers: 1 when the first tier settled it (`model` names that model), 2 when the lineup scored it. */
  readonly tier?: 1 | 2
  readonly latency_ms: number
}

/**
 * How urgently an alert needs a human, which decides where it goes (stages/sinks/alerts-sink.ts):
 *
 * | severity | decisions                                   | goes                                                          |
 * | -------- | ------------------------------------------- | ------------------------------------------------------------- |
 * | critical | declines scoring at least alerts.criticalScore | `alerts` at once, always                                    |
 * | high     | other declines                              | `alerts` at once within alerts.maxImmediatePerSecond, else the digest |
 * | low      | reviews                                     | the next digest on `alerts.digest`                            |
 */
export const AlertSeverity = { critical: 'critical', high: 'high', low: 'low' } as const
export type AlertSeverity = (typeof AlertSeverity)[keyof typeof AlertSeverity]

/** An `alerts` record (and a digest's entry): a decision for a human, with the context an analyst looks at first. */
export interface AlertV1 extends DecisionV1 {
  readonly severity: AlertSeverity
  readonly amount: number
  readonly currency: string
  readonly merchant_id: string
  readonly terminal_id: string
  readonly country: string
}

export type { LabelV1 } from './label-v1.js'
