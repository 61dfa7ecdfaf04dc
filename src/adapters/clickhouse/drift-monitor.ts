import type { Config } from '../../config/schema.js'
import type { Logger } from '../../observability/logger.js'
import type { Metrics } from '../../observability/metrics.js'
import type { ClickHouseClient } from './client.js'
import { defaultWindows, driftLevelOf, newestEventMs, queryDrift } from './drift-queries.js'

export interface DriftMonitor {
  /** Computes the gauges now (also what the timer calls); resolves when done, never rejects. */
  refresh(): Promise<void>
  stop(): Promise<void>
}

/**
 * Exports the latest drift as Prometheus gauges (fraudstream_drift_psi / _ks per feature, fraudstream_drift_level),
 * recomputed every `analytics.drift.intervalMs` with the default windows of `fraudstream drift`: the query runs in
 * ClickHouse, off the decision path, and one computation at a time (a slow one skips the next tick). A failure is
 * counted and logged at warn; the gauges keep their last values, so a dashboard shows stale, not zero, drift.
 * The scores are `model`'s version that decided most in the current window (it follows a promotion of a new version
 * of the same model), its rows in every role, without fallback rows.
 */
export function startDriftMonitor(options: {
  client: ClickHouseClient
  config: Config
  model: string
  runId: string
  metrics: Metrics
  log: Logger
}): DriftMonitor {
  const { client, config, model, runId, metrics, log } = options
  const drift = config.analytics.drift
  let running: Promise<void> | undefined
  const compute = async () => {
    const newest = await newestEventMs(client, runId)
    if (newest === undefined) return
    const { reference, current } = defaultWindows(newest, {}, drift)
    const rows = await queryDrift(client, { runId, model, reference, current, drift })
    for (const row of rows) {
      if (row.psi === null || row.ks === null) continue
      metrics.driftPsi.set({ model, feature: row.feature }, row.psi)
      metrics.driftKs.set({ model, feature: row.feature }, row.ks)
    }
    metrics.driftLevel.set({ model }, driftLevelOf(rows))
  }
  const refresh = () =>
    (running ??= compute()
      .then(() => metrics.driftRuns.inc({ result: 'ok' }))
      .catch((err: unknown) => {
        metrics.driftRuns.inc({ result: 'failed' })
        log.warn({ err }, 'drift gauges not computed')
      })
      .finally(() => {
        running = undefined
      }))
  const timer = setInterval(() => void refresh(), drift.intervalMs)
  // The gauges never keep a process alive that has nothing else to do.
  timer.unref()
  return {
    refresh,
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
