import type { Label } from '../../core/label-v1.js'
import type { TransactionAttributes } from '../../core/ports.js'
import { needsAttribution, withAttributes } from './label-attribution.js'
import { labelFacts, type KeyedFact } from './lookup-facts.js'
import type { LookupPlan } from './lookup-plan.js'

export type RoutedLabel =
  | { readonly kind: 'facts'; readonly facts: KeyedFact[] }
  /** Reported before the partition's watermark: tables may already have been read past it, so it enters none. */
  | { readonly kind: 'late' }
  /**
   * On time, but without its transaction's time or a key id a feature reads: the caller finds its transaction's
   * attributes and calls `attribute`. Its lateness is judged now, at its place in the partition, as for any label.
   */
  | { readonly kind: 'attribute' }

/**
 * One `labels` partition on its way to the lookup tables: event time is `reported_at`, the watermark is the newest
 * one seen minus the allowed lateness. The stream and `fraudstream features` both route labels through this.
 */
export class LabelRouter {
  #maxReportedMs = -Infinity

  constructor(
    readonly plan: LookupPlan,
    readonly source: string,
    readonly allowedLatenessMs: number,
  ) {}

  /** Labels reported before this are late; all later ones are at or above it. */
  get watermarkMs(): number {
    return this.#maxReportedMs - this.allowedLatenessMs
  }

  /** A new owner continues from the watermark its predecessor published, so it calls the same labels late. */
  resumeFrom(watermarkMs: number): void {
    this.#maxReportedMs = Math.max(this.#maxReportedMs, watermarkMs + this.allowedLatenessMs)
  }

  route(label: Label, offset: number): RoutedLabel {
    if (label.reportedAtMs < this.watermarkMs) return { kind: 'late' }
    this.#maxReportedMs = Math.max(this.#maxReportedMs, label.reportedAtMs)
    if (needsAttribution(this.plan, label)) return { kind: 'attribute' }
    return { kind: 'facts', facts: labelFacts(this.plan, label, this.source, offset) }
  }

  /**
   * The facts of a label `route` asked to attribute, with its transaction's attributes; without them (its
   * transaction never seen), what its own fields allow, often nothing: the caller counts and logs it.
   */
  attribute(label: Label, offset: number, attributes: TransactionAttributes | undefined): KeyedFact[] {
    return labelFacts(this.plan, attributes ? withAttributes(label, attributes) : label, this.source, offset)
  }
}
