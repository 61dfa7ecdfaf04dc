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
  /** One per labels partition, as the stream has: each judges lateness by its own partition's watermark. */
  readonly #routers = new Map<number, LabelRouter>()
  #sequence = 0
  lateLabels = 0
  unattributedLabels = 0

  /** `labelPartitionOf`: the labels partition a label was (or would be) in; one partition by default. */
  constructor(
    readonly plan: LookupPlan,
    readonly allowedLatenessMs: number,
    readonly labelPartitionOf: (label: Label) => number = () => 0,
  ) {
    this.#aggregator = new LookupAggregator(plan, [])
  }

  addTransaction(tx: Transaction, late: boolean): void {
    if (late) return
    for (const fact of transactionFacts(this.plan, tx, sourceId('tx', 0), this.#sequence++))
      this.#aggregator.apply(fact)
  }

  /** Labels in the order the `labels` topic would hold them, within each of its partitions; `partition` when known. */
  addLabel(label: Label, partition = this.labelPartitionOf(label)): void {
    let router = this.#routers.get(partition)
    if (!router)
      this.#routers.set(
        partition,
        (router = new LabelRouter(this.plan, sourceId('labels', partition), this.allowedLatenessMs)),
      )
    const routed = router.route(label, this.#sequence++)
    if (routed.kind === 'late') this.lateLabels++
    else if (routed.kind === 'unattributed') this.unattributedLabels++
    else for (const fact of routed.facts) this.#aggregator.apply(fact)
  }

  /** `atMs`: when the stream reads the transaction's lookups (PartitionState.observe's lookupAtMs). */
  fill(row: Float32Array, tx: Transaction, atMs: number): void {
    fillLookups(this.plan, row, tx, atMs, (key) => this.#aggregator.keys.get(key))
  }
}
