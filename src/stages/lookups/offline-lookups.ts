import type { Label } from '../../core/label-v1.js'
import type { Transaction } from '../../core/transaction-v1.js'
import { LabelRouter } from './label-router.js'
import { LookupAggregator } from './lookup-aggregator.js'
import { sourceId, transactionFacts, type KeyedFact } from './lookup-facts.js'
import { fillLookups, type LookupPlan } from './lookup-plan.js'
import { TransactionIndex } from './transaction-index.js'

/** Labels whose transaction was never seen: the first few ids are kept for a person to look at. */
const SHOWN_IDS = 10

export interface OfflineLookupsOptions {
  /** The labels partition a label was (or would be) in; one partition by default. */
  readonly labelPartitionOf?: (label: Label) => number
  /**
   * Where labels carrying the transaction id alone find their transaction: by default every transaction added,
   * kept for the longest lookup horizon plus the allowed lateness (labels fed in event order with them).
   */
  readonly index?: TransactionIndex
}

/**
 * Lookup features for a finite set of transactions and labels (training, `fraudstream features`, tests): every
 * fact goes into one aggregator first, then each row reads it. Windows end in the past and labels count by report
 * time, so reading the complete table gives what the stream reads at scoring time; the facts are the ones the
 * stream would send (on-time transactions, labels routed by the same LabelRouter and attributed, when they lack
 * the transaction's fields, from the transactions seen as the stream attributes them from `scores`).
 */
export class OfflineLookups {
  readonly #aggregator: LookupAggregator
  /** One per labels partition, as the stream has: each judges lateness by its own partition's watermark. */
  readonly #routers = new Map<number, LabelRouter>()
  readonly #index: TransactionIndex
  readonly #labelPartitionOf: (label: Label) => number
  #sequence = 0
  lateLabels = 0
  /** Labels whose transaction was not among those seen: they add what their own fields allow (mostly nothing). */
  unattributedLabels = 0
  readonly unattributedIds: string[] = []

  constructor(
    readonly plan: LookupPlan,
    readonly allowedLatenessMs: number,
    options: OfflineLookupsOptions = {},
  ) {
    this.#aggregator = new LookupAggregator(plan, [], { tracksChanges: false })
    this.#labelPartitionOf = options.labelPartitionOf ?? (() => 0)
    this.#index =
      options.index ?? new TransactionIndex({ retainMs: Math.max(0, ...plan.horizonMs.values()) + allowedLatenessMs })
  }

  /** Every transaction scored, late or not: a late one enters no table, but its labels are attributed all the same. */
  addTransaction(tx: Transaction, late: boolean): void {
    this.#index.remember(tx)
    if (late) return
    for (const fact of transactionFacts(this.plan, tx, sourceId('tx', 0), this.#sequence++))
      this.#aggregator.apply(fact)
  }

  /** Labels in the order the `labels` topic would hold them, within each of its partitions; `partition` when known. */
  addLabel(label: Label, partition = this.#labelPartitionOf(label)): void {
    for (const fact of this.routeLabel(label, partition)) this.#aggregator.apply(fact)
  }

  /**
   * The facts a label adds to the tables, routed and attributed as addLabel does (and counted the same way), for a
   * caller applying them itself (RollingLookups). Labels must come in addLabel's order.
   */
  routeLabel(label: Label, partition = this.#labelPartitionOf(label)): readonly KeyedFact[] {
    let router = this.#routers.get(partition)
    if (!router)
      this.#routers.set(
        partition,
        (router = new LabelRouter(this.plan, sourceId('labels', partition), this.allowedLatenessMs)),
      )
    const offset = this.#sequence++
    const routed = router.route(label, offset)
    if (routed.kind === 'late') {
      this.lateLabels++
      return []
    }
    if (routed.kind === 'facts') return routed.facts
    const attributes = this.#index.get(label.transaction_id)
    if (!attributes) {
      this.unattributedLabels++
      if (this.unattributedIds.length < SHOWN_IDS) this.unattributedIds.push(label.transaction_id)
    }
    return router.attribute(label, offset, attributes)
  }

  /** Remembers a transaction for the attribution of labels without adding it to any table. */
  indexTransaction(tx: Transaction): void {
    this.#index.remember(tx)
  }

  /** `atMs`: when the stream reads the transaction's lookups (PartitionState.observe's lookupAtMs). */
  fill(row: Float32Array, tx: Transaction, atMs: number): void {
    fillLookups(this.plan, row, tx, atMs, (key) => this.#aggregator.keys.get(key))
  }
}
