import type { Logger } from 'pino'
import type { Label } from '../../core/label-v1.js'
import type { TopicPartition, TransactionAttributes, TransactionAttribution } from '../../core/ports.js'
import type { Metrics } from '../../observability/metrics.js'
import type { LabelRouter } from './label-router.js'
import type { KeyedFact } from './lookup-facts.js'
import type { PendingLabels } from './pending-labels.js'

/** Transaction ids named in one unattributed-labels log line: enough to look a few up, bounded for a backlog. */
const LOGGED_IDS = 50

/** A labels partition as the attributor sees it. */
export interface AttributedPartition {
  readonly tp: TopicPartition
  readonly router: LabelRouter
  readonly pending: PendingLabels
  readonly revoked: boolean
  /** Its waiting labels are given up to the next owner: none is looked up any more. */
  readonly draining: boolean
}

export interface LabelAttributorOptions<P extends AttributedPartition> {
  readonly attribution: TransactionAttribution
  readonly timeoutMs: number
  readonly metrics: Metrics
  readonly log: Logger
  /** Sends the facts of a label that waited (found or not), and acknowledges its attribution. */
  readonly send: (partition: P, offset: number, facts: readonly KeyedFact[]) => void
  /** After a round: sends the facts buffered by `send`. */
  readonly flush: () => void
}

/**
 * Looks up the transactions of the labels waiting in a lookup task's labels partitions (PendingLabels), all in one
 * batched query per round, and routes those found. Those that waited the timeout are counted
 * (`fraudstream_labels_unattributed_total{reason}`) and logged with their transaction ids: never silently dropped.
 * A failed lookup is retried on the next round; labels still waiting hold their partition's marker and commit back
 * meanwhile, so none is lost and no transaction that needs one is scored without it.
 */
export class LabelAttributor<P extends AttributedPartition> {
  /** A round in flight: the next one waits for it. */
  #running = false

  constructor(readonly options: LabelAttributorOptions<P>) {}

  /** One round over the labels partitions owned now. */
  async round(partitions: readonly P[]): Promise<void> {
    const { attribution, log, metrics } = this.options
    if (this.#running) return
    const waiting = partitions.filter((p) => !p.draining && p.pending.size > 0)
    if (waiting.length === 0) return
    this.#running = true
    const ids = [...new Set(waiting.flatMap((p) => p.pending.ids()))]
    let found: ReadonlyMap<string, TransactionAttributes> = new Map()
    let failed = false
    try {
      found = await attribution.resolve(ids)
    } catch (err) {
      failed = true
      metrics.labelAttributionFailures.inc()
      log.warn({ err, labels: ids.length }, 'looking up the transactions of labels failed; retried on the next round')
    } finally {
      this.#running = false
    }
    const nowMs = performance.now()
    for (const partition of waiting) {
      // Revoked or draining meanwhile: its labels are the next owner's now.
      if (partition.revoked || partition.draining) continue
      const { attributed, expired } = partition.pending.settle(found, nowMs, this.options.timeoutMs)
      for (const { offset, label, attributes } of attributed) {
        metrics.lookupLabels.inc({ outcome: 'attributed' })
        this.options.send(partition, offset, partition.router.attribute(label, offset, attributes))
      }
      if (expired.length > 0) this.#unattributed(partition, expired, failed ? 'lookup_failed' : 'not_found')
    }
    this.options.flush()
  }

  /**
   * Labels whose transaction was not found in time: each adds what its own fields allow (often nothing), and they
   * are counted and logged with their transaction ids, one line per partition and round.
   */
  #unattributed(
    partition: P,
    labels: readonly { offset: number; label: Label }[],
    reason: 'not_found' | 'lookup_failed',
  ): void {
    const { metrics, log } = this.options
    metrics.lookupLabels.inc({ outcome: 'unattributed' }, labels.length)
    metrics.labelsUnattributed.inc({ reason }, labels.length)
    let partial = 0
    for (const { offset, label } of labels) {
      const facts = partition.router.attribute(label, offset, undefined)
      if (facts.length > 0) partial++
      this.options.send(partition, offset, facts)
    }
    log.warn(
      {
        partition: partition.tp.partition,
        reason,
        labels: labels.length,
        // Fed what their own fields allow (a time and some ids): the features of the rest miss them.
        partial,
        transaction_ids: labels.slice(0, LOGGED_IDS).map(({ label }) => label.transaction_id),
        offsets: labels.slice(0, LOGGED_IDS).map(({ offset }) => offset),
        timeout_ms: this.options.timeoutMs,
      },
      'labels whose transaction was not found: they feed no terminal or merchant feature',
    )
  }
}
