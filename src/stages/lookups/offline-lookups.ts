import type { Label } from '../../core/label-v1.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { LabelRouter } from './label-router.js'
import { LookupAggregator } from './lookup-aggregator.js'
import { sourceId, transactionFacts } from './lookup-facts.js'
import { fillLookups, type LookupPlan } from './lookup-plan.js'

/**
 * Lookup features for a finite set of transactions and labels (training, `fraudstream features`, tests): every
 * fact goes into one aggregator first, then each row reads it. Windows end in the past and labels count by report
 * time, so reading the complete table gives what the stream reads at scoring time; the facts are the ones the
 * stream would send (on-time transactions, labels routed by the same LabelRouter).
 */
export class OfflineLookups {
  readonly #aggregator: LookupAggregator
  readonly #labels: LabelRouter
  #sequence = 0
  lateLabels = 0
  unattributedLabels = 0

  constructor(readonly plan: LookupPlan, allowedLatenessMs: number) {
    this.#aggregator = new LookupAggregator(plan, [])
    this.#labels = new LabelRouter(plan, sourceId('labels', 0), allowedLatenessMs)
  }

  addTransaction(tx: Transaction, late: boolean): void {
    if (late) return
    for (const fact of transactionFacts(this.plan, tx, sourceId('tx', 0), this.#sequence++)) this.#aggregator.apply(fact)
  }

  /** Labels in the order the `labels` topic would hold them. */
  addLabel(label: Label): void {
    const routed = this.#labels.route(label, this.#sequence++)
    if (routed.kind === 'late') this.lateLabels++
    else if (routed.kind === 'unattributed') this.unattributedLabels++
    else for (const fact of routed.facts) this.#aggregator.apply(fact)
  }

  fill(row: Float32Array, tx: Transaction): void {
    fillLookups(this.plan, row, tx, (key) => this.#aggregator.keys.get(key))
  }
}
