import type { Logger } from 'pino'
import { transactionOutcomeOf, type CardFraudGraph } from '../topology/card-fraud.js'
import type { Metrics } from './observability/metrics.js'
import { alertKindOf, AlertOutcome } from './stages/sinks/alerts-sink.js'
import type { JobOptions } from './runtime/job.js'
import type { TopologyPartition } from './runtime/topology-runner.js'

/**
 * The card-fraud job's metrics and state reports: what the runtime observes, mapped to the metrics users know
 * (fraudstream_transactions_total, decisions, lookup waits), and each partition's state sizes and evictions.
 */
export function cardFraudObserver(
  graph: CardFraudGraph,
  metrics: Metrics,
  log: Logger,
  limits: { maxStateBytes: number; dedupeMaxEntries: number; dedupeHorizonMs: number },
): Pick<JobOptions<unknown>, 'observe' | 'hooks'> {
  const reported = new WeakMap<TopologyPartition, { budgetEvictions: number; dedupeEvictedEarly: number }>()

  /** A partition's state sizes, watermark lag, and budget and dedupe evictions since the last report. */
  function reportState(p: TopologyPartition): void {
    const partition = String(p.tp.partition)
    const features = graph.windows.featuresOf(p.tp)
    const dedupe = graph.dedupe.storeOf(p.tp)
    if (!features || !dedupe) return
    let last = reported.get(p)
    if (!last) reported.set(p, (last = { budgetEvictions: 0, dedupeEvictedEarly: 0 }))
    metrics.windowStateBytes.set({ partition }, features.windows.estimatedBytes)
    metrics.windowStateAllocatedBytes.set({ partition }, features.windows.allocatedBytes)
    const watermarkMs = features.windows.watermarkMs
    if (Number.isFinite(watermarkMs)) metrics.watermarkLag.set({ partition }, (Date.now() - watermarkMs) / 1000)
    const evicted = features.budgetEvictions - last.budgetEvictions
    if (evicted > 0) {
      last.budgetEvictions = features.budgetEvictions
      metrics.budgetEvictions.inc({ partition }, evicted)
      log.warn(
        { partition: p.tp.partition, evicted, maxStateBytes: limits.maxStateBytes },
        'window state over budget: oldest cards dropped',
      )
    }
    metrics.dedupeIds.set({ partition }, dedupe.size)
    const evictedEarly = graph.dedupe.evictedEarlySinceRestore(p.tp)
    const forgotten = evictedEarly - last.dedupeEvictedEarly
    if (forgotten > 0) {
      last.dedupeEvictedEarly = evictedEarly
      metrics.dedupeEvictedEarly.inc({ partition }, forgotten)
      log.warn(
        {
          partition: p.tp.partition,
          forgotten,
          maxEntries: limits.dedupeMaxEntries,
          horizonMs: limits.dedupeHorizonMs,
        },
        'dedupe store full: ids forgotten before their horizon',
      )
    }
  }

  return {
    observe: {
      count: (stage, outcome, n) => {
        metrics.stageRecords.inc({ stage, outcome }, n)
        const transactionOutcome = transactionOutcomeOf(stage, outcome)
        if (transactionOutcome) metrics.transactions.inc({ outcome: transactionOutcome }, n)
        if (stage === 'decide') metrics.decisions.inc({ decision: outcome }, n)
        if (stage === 'alerts') {
          const alert = alertKindOf(outcome)
          if (alert) metrics.alerts.inc(alert, n)
          else if (outcome === AlertOutcome.digests) metrics.alertDigests.inc(n)
        }
        if (stage === 'lookups') metrics.lookupWaits.inc({ result: outcome === 'stale' ? 'stale' : 'complete' }, n)
      },
      durationOf: (stage) => {
        const series = metrics.stageDuration.series(stage)
        return (ms, records) => series.observeMs(ms, records)
      },
      deadLetter: (stage, reason) => metrics.deadLetters.inc({ stage, reason }),
      restored: (n) => metrics.restored.inc(n),
      snapshotsSkipped: () => metrics.snapshotsSkipped.inc(),
      snapshotWritten: (tp, bytes) => metrics.snapshotBytes.set({ partition: String(tp.partition) }, bytes),
      snapshotFailed: () => metrics.snapshotFailures.inc(),
    },
    hooks: {
      onCommitResult: (ok) => metrics.commits.inc({ result: ok ? 'ok' : 'error' }),
      onAssignmentChange: (owned) => metrics.assignedPartitions.set(owned),
      onPaused: (paused, inFlight) => {
        metrics.paused.set(paused ? 1 : 0)
        metrics.inFlight.set(inFlight)
      },
      onStray: () => metrics.strayRecords.inc(),
      onRefresh: (p) => {
        reportState(p)
        metrics.consumerLag.set(
          { partition: String(p.tp.partition) },
          Math.max(0, p.highWatermark - p.tracker.committable),
        )
      },
      onRevoked: (p) => {
        // Its last evictions reported, then its series removed: the next owner exports its own.
        reportState(p)
        for (const gauge of [
          metrics.windowStateBytes,
          metrics.windowStateAllocatedBytes,
          metrics.watermarkLag,
          metrics.consumerLag,
          metrics.snapshotBytes,
          metrics.dedupeIds,
        ])
          gauge.remove({ partition: String(p.tp.partition) })
      },
    },
  }
}
