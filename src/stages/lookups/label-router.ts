import type { Label } from '../../core/label-v1.js'
import { labelFacts, type KeyedFact } from './lookup-facts.js'
import type { LookupPlan } from './lookup-plan.js'

export type RoutedLabel =
  | { readonly kind: 'facts'; readonly facts: KeyedFact[] }
  /** Reported before the partition's watermark: tables may already have been read past it, so it enters none. */
  | { readonly kind: 'late' }
  /** No transaction time or key ids: nothing to attribute it to. */
  | { readonly kind: 'unattributed' }

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
    const facts = labelFacts(this.plan, label, this.source, offset)
    return facts.length > 0 ? { kind: 'facts', facts } : { kind: 'unattributed' }
  }
}
