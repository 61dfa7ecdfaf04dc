import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { RecordHistogram } from './record-histogram.js'

/**
 * Every metric fraudstream exports. Durations are recorded in ms in code and converted to seconds here, so the
 * exported unit is always the base unit. Labels stay low-cardinality: never card, customer or merchant ids.
 */
export function createMetrics(options: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry()
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'fraudstream_' })
  const registers = [registry]
  const transactions = new Counter({
    name: 'fraudstream_transactions_total',
    help: 'Consumed transaction records by outcome',
    labelNames: ['outcome'] as const,
    registers,
  })
  const deadLetters = new Counter({
    name: 'fraudstream_dead_letters_total',
    help: 'Records sent to the dead-letter topic',
    labelNames: ['stage', 'reason'] as const,
    registers,
  })
  const decisions = new Counter({
    name: 'fraudstream_decisions_total',
    help: 'Decisions by outcome',
    labelNames: ['decision'] as const,
    registers,
  })
  const alerts = new Counter({
    name: 'fraudstream_alerts_total',
    help: 'Alerts by where they went (immediate: the alerts topic; digest: an alerts.digest record) and severity',
    labelNames: ['kind', 'severity'] as const,
    registers,
  })
  const alertDigests = new Counter({
    name: 'fraudstream_alert_digests_total',
    help: 'Digest records sent to alerts.digest',
    registers,
  })
  const restored = new Counter({
    name: 'fraudstream_restored_records_total',
    help: 'Records replayed to rebuild state after an assignment',
    registers,
  })
  const strayRecords = new Counter({
    name: 'fraudstream_stray_records_total',
    help: 'Records dropped because their partition is no longer owned',
    registers,
  })
  const decisionLatency = new Histogram({
    name: 'fraudstream_decision_latency_seconds',
    help: 'From the record being polled to its decision',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  })
  const eventToDecision = new Histogram({
    name: 'fraudstream_event_to_decision_seconds',
    help: "From the record's Kafka timestamp (CreateTime or LogAppendTime) to its decision: the latency a payment sees",
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  })
  const inferenceBatch = new Histogram({
    name: 'fraudstream_inference_batch_records',
    help: 'Records per inference batch',
    labelNames: ['model'] as const,
    buckets: [1, 8, 32, 64, 128, 256, 512, 1024],
    registers,
  })
  const inferenceDuration = new Histogram({
    name: 'fraudstream_inference_duration_seconds',
    help: 'Wall time of one inference batch including the worker hop',
    labelNames: ['model'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
    registers,
  })
  const inferenceFallbacks = new Counter({
    name: 'fraudstream_inference_fallback_total',
    help: 'Transactions decided by the fallback rules, by why the models could not score them (error, deadline)',
    labelNames: ['reason'] as const,
    registers,
  })
  const modelReloads = new Counter({
    name: 'fraudstream_model_reloads_total',
    help: 'Registry changes a running job applied (ok) or refused (failed: a missing model, another contract)',
    labelNames: ['result'] as const,
    registers,
  })
  const modelServed = new Gauge({
    name: 'fraudstream_model_served',
    help: 'The models batches are scored with now, by role (champion, challenger, shadow): 1 each',
    labelNames: ['model', 'version', 'role'] as const,
    registers,
  })
  const rulesChanges = new Counter({
    name: 'fraudstream_rules_changes_total',
    help: 'Rule and list records read from their topics: applied (ok) or refused (invalid, an unknown feature)',
    labelNames: ['topic', 'result'] as const,
    registers,
  })
  const rulesActive = new Gauge({
    name: 'fraudstream_rules_active',
    help: 'Rules that run (kind rules) and list entries held (kind list_entries), in the current rule-set version',
    labelNames: ['kind'] as const,
    registers,
  })
  const clickhouseInserts = new Counter({
    name: 'fraudstream_clickhouse_inserts_total',
    help: 'ClickHouse insert attempts by result',
    labelNames: ['table', 'result'] as const,
    registers,
  })
  const clickhouseRows = new Counter({
    name: 'fraudstream_clickhouse_rows_total',
    help: 'Rows acknowledged by ClickHouse',
    labelNames: ['table'] as const,
    registers,
  })
  const producerErrors = new Counter({
    name: 'fraudstream_producer_errors_total',
    help: 'Kafka delivery failures (each is retried)',
    labelNames: ['topic'] as const,
    registers,
  })
  const commits = new Counter({
    name: 'fraudstream_offset_commits_total',
    help: 'Offset commits by result',
    labelNames: ['result'] as const,
    registers,
  })
  const inFlight = new Gauge({
    name: 'fraudstream_in_flight_records',
    help: 'Records consumed and not yet acknowledged by every sink',
    registers,
  })
  const paused = new Gauge({
    name: 'fraudstream_paused',
    help: '1 while the source is paused for backpressure',
    registers,
  })
  const windowStateBytes = new Gauge({
    name: 'fraudstream_window_state_bytes',
    help: 'Estimated bytes of window state (what windows.maxStateBytesPerPartition bounds)',
    labelNames: ['partition'] as const,
    registers,
  })
  const windowStateAllocatedBytes = new Gauge({
    name: 'fraudstream_window_state_allocated_bytes',
    help: 'Bytes the window state holds in memory: its pages, free space included, and its card table',
    labelNames: ['partition'] as const,
    registers,
  })
  const watermarkLag = new Gauge({
    name: 'fraudstream_watermark_lag_seconds',
    help: 'Wall clock minus the partition watermark (event time)',
    labelNames: ['partition'] as const,
    registers,
  })
  const consumerLag = new Gauge({
    name: 'fraudstream_consumer_lag_records',
    help: 'High watermark minus the next offset to process',
    labelNames: ['partition'] as const,
    registers,
  })
  const dedupeIds = new Gauge({
    name: 'fraudstream_dedupe_ids',
    help: 'Transaction ids the dedupe store remembers (about 100 bytes each)',
    labelNames: ['partition'] as const,
    registers,
  })
  const dedupeEvictedEarly = new Counter({
    name: 'fraudstream_dedupe_evicted_early_total',
    help: 'Ids forgotten before dedupe.horizonMs because of dedupe.maxEntriesPerPartition: duplicates of them would pass',
    labelNames: ['partition'] as const,
    registers,
  })
  const budgetEvictions = new Counter({
    name: 'fraudstream_window_budget_evictions_total',
    help: 'Cards dropped from window state to stay within the byte budget',
    labelNames: ['partition'] as const,
    registers,
  })
  const snapshotBytes = new Gauge({
    name: 'fraudstream_state_snapshot_bytes',
    help: 'Size of the last state snapshot',
    labelNames: ['partition'] as const,
    registers,
  })
  const snapshotFailures = new Counter({
    name: 'fraudstream_state_snapshot_failures_total',
    help: 'State snapshots that could not be written',
    registers,
  })
  const snapshotsSkipped = new Counter({
    name: 'fraudstream_state_snapshots_skipped_total',
    help: 'Snapshots passed over on restore (other settings, unreadable, malformed): an older one or a longer replay was used',
    registers,
  })
  const lookupLabels = new Counter({
    name: 'fraudstream_lookup_labels_total',
    help: 'Labels read by the lookup stage by outcome (routed, attributed = routed once their transaction was found, late, unattributed, invalid)',
    labelNames: ['outcome'] as const,
    registers,
  })
  const labelsUnattributed = new Counter({
    name: 'fraudstream_labels_unattributed_total',
    help: 'Labels without their transaction fields whose transaction was not found within lookups.attributionTimeoutMs, by reason (not_found, lookup_failed): they feed no terminal or merchant feature; each is logged with its transaction_id',
    labelNames: ['reason'] as const,
    registers,
  })
  const labelAttributionFailures = new Counter({
    name: 'fraudstream_label_attribution_failures_total',
    help: 'Lookups of labelled transactions in the scores table that failed (retried on the next tick)',
    registers,
  })
  const lookupFacts = new Counter({
    name: 'fraudstream_lookup_facts_total',
    help: 'Facts read by the lookup aggregator by outcome (applied, duplicate = a re-emission, expired = older than every window, unreadable)',
    labelNames: ['outcome'] as const,
    registers,
  })
  const lookupWaits = new Counter({
    name: 'fraudstream_lookup_waits_total',
    help: 'Transactions that waited for the lookup tables, by how it ended (complete, stale = scored after lookups.maxWaitMs)',
    labelNames: ['result'] as const,
    registers,
  })
  const lookupWaitSeconds = new Histogram({
    name: 'fraudstream_lookup_wait_seconds',
    help: 'How long a transaction waited for the lookup tables, counting only those that had to wait (those released at once are not observed)',
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  })
  const lookupTableKeys = new Gauge({
    name: 'fraudstream_lookup_table_keys',
    help: "Keys (terminals, merchants) in this instance's lookup tables",
    registers,
  })
  const lookupCompletenessLag = new Gauge({
    name: 'fraudstream_lookup_completeness_lag_seconds',
    help: 'Wall clock minus the event time below which the lookup tables are complete',
    registers,
  })
  const stageRecords = new Counter({
    name: 'fraudstream_stage_records_total',
    help: 'What each topology node did with its records, by outcome (dead_letter, duplicate, late, stale, …)',
    labelNames: ['stage', 'outcome'] as const,
    registers,
  })
  const stageDuration = new RecordHistogram(
    'fraudstream_stage_duration_seconds',
    'Per record, the time from entering a topology node to reaching the next (queue: Kafka timestamp to poll; <sink>:ack: handed to a sink to acknowledged; commit: a commit sent to confirmed)',
    'stage',
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers,
  )
  const assignedPartitions = new Gauge({
    name: 'fraudstream_assigned_partitions',
    help: 'Partitions this instance owns',
    registers,
  })
  // Computed by the drift monitor on a schedule (analytics.drift.intervalMs), never on the decision path.
  const driftPsi = new Gauge({
    name: 'fraudstream_drift_psi',
    help: 'PSI of a feature (or the score) between the drift windows (analytics.drift), as `fraudstream drift` prints it',
    labelNames: ['model', 'feature'] as const,
    registers,
  })
  const driftKs = new Gauge({
    name: 'fraudstream_drift_ks',
    help: 'Two-sample Kolmogorov-Smirnov distance of a feature (or the score) between the drift windows',
    labelNames: ['model', 'feature'] as const,
    registers,
  })
  const driftLevel = new Gauge({
    name: 'fraudstream_drift_level',
    help: "Worst drift status of the latest computation: 0 ok, 1 warn, 2 alert (drift's exit code)",
    labelNames: ['model'] as const,
    registers,
  })
  const driftRuns = new Counter({
    name: 'fraudstream_drift_runs_total',
    help: 'Drift computations by result (ok, failed)',
    labelNames: ['result'] as const,
    registers,
  })
  const apiRequests = new Counter({
    name: 'fraudstream_api_requests_total',
    help: 'Scoring API requests by route and HTTP status',
    labelNames: ['route', 'status'] as const,
    registers,
  })
  const apiAnswers = new Counter({
    name: 'fraudstream_api_answers_total',
    help: "Transactions the scoring API answered, by source: stream (its decision arrived in time), replayed (a retry, from an earlier request's decision), fallback (the deadline passed)",
    labelNames: ['source'] as const,
    registers,
  })
  const apiDuration = new Histogram({
    name: 'fraudstream_api_request_duration_seconds',
    help: 'From a scoring request arriving to its answer',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.25, 1],
    registers,
  })
  const apiUnsettled = new Counter({
    name: 'fraudstream_api_unsettled_total',
    help: 'Transactions answered by the fallback whose decision neither the stream nor `scores` gave within api.settleMs',
    registers,
  })
  return {
    registry,
    apiRequests,
    apiAnswers,
    apiDuration: { observeMs: (ms: number) => apiDuration.observe(ms / 1000) },
    apiUnsettled,
    driftPsi,
    driftKs,
    driftLevel,
    driftRuns,
    transactions,
    deadLetters,
    decisions,
    alerts,
    alertDigests,
    restored,
    strayRecords,
    decisionLatency: { observeMs: (ms: number) => decisionLatency.observe(ms / 1000) },
    eventToDecision: { observeMs: (ms: number) => eventToDecision.observe(ms / 1000) },
    inferenceBatch,
    inferenceDuration: { observeMs: (model: string, ms: number) => inferenceDuration.observe({ model }, ms / 1000) },
    inferenceFallbacks,
    modelReloads,
    modelServed,
    rulesChanges,
    rulesActive,
    clickhouseInserts,
    clickhouseRows,
    producerErrors,
    commits,
    inFlight,
    paused,
    windowStateBytes,
    windowStateAllocatedBytes,
    watermarkLag,
    consumerLag,
    assignedPartitions,
    snapshotBytes,
    snapshotFailures,
    snapshotsSkipped,
    budgetEvictions,
    dedupeIds,
    dedupeEvictedEarly,
    stageRecords,
    stageDuration,
    lookupLabels,
    labelsUnattributed,
    labelAttributionFailures,
    lookupFacts,
    lookupWaits,
    lookupWaitSeconds: {
      observeMs: (ms: number) => lookupWaitSeconds.observe(ms / 1000),
      histogram: lookupWaitSeconds,
    },
    lookupTableKeys,
    lookupCompletenessLag,
  }
}
export type Metrics = ReturnType<typeof createMetrics>
