import { z } from 'zod'

const positiveInt = z.coerce.number().int().positive()
const nonNegativeInt = z.coerce.number().int().min(0)

export const ConfigSchema = z
  .object({
    /** `test` allows the librdkafka mock cluster and plaintext; `production` refuses both. */
    environment: z.enum(['development', 'test', 'production']).default('development'),
    dataDir: z.string().default('./data'),
    kafka: z
      .object({
        /** Empty = start the librdkafka mock cluster in this process (embedded mode). */
        brokers: z.array(z.string().min(1)).default([]),
        groupId: z.string().min(1).default('fraudstream'),
        topics: z
          .object({
            transactions: z.string().default('transactions'),
            dlq: z.string().default('transactions.dlq'),
            decisions: z.string().default('decisions'),
            alerts: z.string().default('alerts'),
            /** Low-severity alerts batched per source partition (alerts.digest), key = `<topic>:<partition>`. */
            alertsDigest: z.string().default('alerts.digest'),
            labels: z.string().default('labels'),
            /**
             * Internal: transactions and labels repartitioned by terminal / merchant for the lookup aggregator.
             * Default `<groupId>.lookup-facts`: internal topics belong to one application, as in Kafka Streams.
             */
            lookupFacts: z.string().optional(),
            /** Internal, compacted: the lookup aggregates every instance holds in memory. Default `<groupId>.lookup-tables`. */
            lookupTables: z.string().optional(),
            /** Internal, compacted: partition state snapshots when runtime.stateStore is kafka. Default `<groupId>.state`. */
            state: z.string().optional(),
            /**
             * Internal, compacted: the model registry as promoted (key `registry`); every instance reads it and switches
             * models together (model.reload). Default `<groupId>.models`.
             */
            models: z.string().optional(),
            /**
             * Internal, compacted: the decision rules (key = rule id, tombstone = delete) and the allow/block/watch
             * list entries (key = `<list>:<kind>:<value>`); every instance reads both before it scores and follows
             * them (`fraudstream rules`, `fraudstream lists`). Defaults `<groupId>.rules` and `<groupId>.lists`.
             */
            rules: z.string().optional(),
            lists: z.string().optional(),
          })
          .prefault({}),
        autoOffsetReset: z.enum(['earliest', 'latest', 'error']).default('earliest'),
        sessionTimeoutMs: positiveInt.default(10_000),
        heartbeatIntervalMs: positiveInt.default(1_000),
        /**
         * Most records per poll. A poll returns what has arrived when it reaches the end of its partitions, so a
         * record does not wait for the poll to fill; under backlog, n bounds the work done between two turns of the
         * event loop.
         */
        consumeBatchSize: positiveInt.default(500),
        /** Extra librdkafka properties (security.protocol, sasl.*): secrets belong in env, not in files. */
        clientProperties: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
      })
      .prefault({}),
    clickhouse: z
      .object({
        /** Unset = embedded chDB under `<dataDir>/clickhouse`. */
        url: z.url().optional(),
        username: z.string().optional(),
        password: z.string().optional(),
        database: z.string().default('default'),
        maxBatchRows: positiveInt.default(2_000),
        lingerMs: nonNegativeInt.default(200),
        /** Blocks whose tokens ClickHouse remembers for insert dedup; must cover every batch that can be retried. */
        dedupWindow: positiveInt.default(10_000),
        retryBackoffMs: positiveInt.default(250),
        maxRetryBackoffMs: positiveInt.default(10_000),
      })
      .prefault({}),
    model: z
      .object({
        /** Directory holding registry.json and <name>/<version>/ packages. */
        dir: z.string().default('./models'),
        /** Overrides the registry's champion, as `name@version` (and turns reloading off: the job serves that model). */
        champion: z.string().optional(),
        /**
         * How a running job learns of a promotion: `file` watches `<dir>/registry.json`; `topic` reads the compacted
         * models topic, which `fraudstream models` writes when kafka.brokers is set, so every instance switches; `auto`
         * is `topic` with kafka.brokers and `file` without; `off` keeps the models the job started with.
         */
        reload: z.enum(['auto', 'file', 'topic', 'off']).default('auto'),
        /** How often the registry file is checked for a change (file reload). */
        reloadIntervalMs: positiveInt.default(500),
      })
      .prefault({}),
    infer: z
      .object({
        maxRecords: positiveInt.default(256),
        /**
         * How long a batch waits for more records after its first. 0: a batch is what one poll brought, scored at
         * once (a poll returns what has arrived, so under load batches grow by themselves).
         */
        lingerMs: nonNegativeInt.default(0),
        threads: positiveInt.default(2),
        /**
         * How long a batch may wait for its scores; past it (or when inference fails) `fallback.rules` decide and the
         * decision carries the reason `fallback`. 0: no deadline.
         */
        deadlineMs: nonNegativeInt.default(50),
        /** Feature contributions kept per decision (models whose graph explains); 0 turns explanations off. */
        explainTopK: nonNegativeInt.default(3),
        /**
         * Tiered scoring, off unless set: `first` (a logistic_regression package, name@version) scores every
         * transaction on the main thread; a score below `approveBelow` (or at or above `declineFrom`) settles it there,
         * and only the rest go to the registry's lineup on the worker threads. Decisions record their tier.
         */
        tiers: z
          .object({
            first: z.string().regex(/^[^@]+@[^@]+$/, 'must be name@version'),
            approveBelow: z.coerce.number().min(0).max(1),
            declineFrom: z.coerce.number().min(0).max(1).optional(),
          })
          .optional(),
        fallback: z
          .object({
            /**
             * Without a model: the strictest rule whose feature is at or past its level decides; none → approve. Unset:
             * the built-in rules (stages/decide/fallback-rules.ts) on the features the feature set has.
             */
            rules: z
              .array(
                z.object({
                  feature: z.string().min(1),
                  atLeast: z.number().optional(),
                  atMost: z.number().optional(),
                  decision: z.enum(['review', 'decline']),
                }),
              )
              .optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    decode: z
      .object({
        maxRecordBytes: positiveInt.default(64 * 1024),
        /**
         * A transaction whose event_time is further ahead of its record's Kafka timestamp (CreateTime, or the broker's
         * LogAppendTime) goes to the dead-letter topic: one far-future time would otherwise move the partition's
         * watermark for good, making every later record late and expiring the dedupe store.
         */
        maxEventTimeAheadMs: positiveInt.default(24 * 60 * 60 * 1000),
      })
      .prefault({}),
    dedupe: z
      .object({
        horizonMs: positiveInt.default(24 * 60 * 60 * 1000),
        maxEntriesPerPartition: positiveInt.default(2_000_000),
      })
      .prefault({}),
    windows: z
      .object({
        allowedLatenessMs: nonNegativeInt.default(60_000),
        /** Estimated window-state bytes per partition; past it the oldest cards are dropped (metric + warn log). */
        maxStateBytesPerPartition: positiveInt.default(1024 * 1024 * 1024),
      })
      .prefault({}),
    lookups: z
      .object({
        /**
         * How long a transaction may wait for the lookup tables to be complete up to its window end; after it, the
         * transaction is scored with the tables as they are and counted as stale. A transaction waits only while its
         * window really lacks facts (a backfill's older records on another partition, the first progress after a
         * fresh start): live traffic, a quiet topic and idle partitions hold nothing (see README, lookups).
         */
        maxWaitMs: positiveInt.default(10_000),
        /** How often the aggregator publishes changed keys and its progress, and sources send watermarks. */
        flushIntervalMs: positiveInt.default(100),
        /**
         * How long the aggregator may hold back buckets no window reads soon (younger than half the shortest lookup
         * delay) before it publishes them: the open hour's bucket of a busy terminal goes out once per interval, not
         * once per flush. Its facts are committed after the publish, so a restart replays at most this much.
         */
        publishIntervalMs: positiveInt.default(5_000),
        /**
         * A label carrying the transaction id alone (Label v1's required fields) is attributed to its transaction's
         * terminal, merchant, customer and time from `scores`; one batched lookup of every label waiting runs this
         * often.
         */
        attributionIntervalMs: positiveInt.default(250),
        /**
         * How long such a label waits for its transaction to reach `scores` (it may arrive before its transaction is
         * scored); then it is counted (`fraudstream_labels_unattributed_total`) and logged. While it waits, its labels
         * partition holds back the tables' label completeness at its reported_at, and its commit.
         */
        attributionTimeoutMs: positiveInt.default(30_000),
      })
      .prefault({}),
    /** The feature set the topology computes: topology/features.ts unless `module` names another (`--features`). */
    features: z
      .object({
        /** A JS/TS module exporting `features` (or a default export): FeatureDefinition[]; relative to the working directory. */
        module: z.string().min(1).optional(),
      })
      .prefault({}),
    thresholds: z
      .object({
        review: z.coerce.number().min(0).max(1).default(0.4),
        decline: z.coerce.number().min(0).max(1).default(0.7),
      })
      .prefault({}),
    /** Where alerts go by severity (AlertSeverity in core/records.ts): at once on `alerts`, or in digests. */
    alerts: z
      .object({
        /** A decline scoring at least this is critical: immediate whatever the rate. Above 1: no decline is critical. */
        criticalScore: z.coerce.number().min(0).default(0.9),
        /** Immediate alerts a second; beyond it high (not critical) ones go into the digest. 0: no bound. */
        maxImmediatePerSecond: nonNegativeInt.default(100),
        digest: z
          .object({
            /**
             * A digest goes out this long after its first alert at the latest. Short: the records after its first alert
             * count as in flight until it is acknowledged, and the in-flight bound sets a closed loop's rate.
             */
            intervalMs: positiveInt.default(250),
            maxAlerts: positiveInt.max(5_000).default(500),
            /**
             * An open digest holds its partition's commit at its first alert: open digests are cut, widest first, when
             * the offsets they hold back add up to this many. Unset: a quarter of runtime.maxInFlight.
             */
            maxOffsetSpan: positiveInt.optional(),
          })
          .prefault({}),
      })
      .prefault({}),
    runtime: z
      .object({
        /**
         * Records consumed but not yet acknowledged by every sink; past it, partitions pause. It bounds memory (each
         * record in flight holds its transaction, feature row, decision and score row) and, by Little's law, the
         * throughput of a closed loop whose records wait long in flight: lookups waiting for the tables, inserts.
         */
        maxInFlight: positiveInt.default(50_000),
        commitIntervalMs: positiveInt.default(500),
        shutdownTimeoutMs: positiveInt.default(30_000),
        /** How often each partition's state is snapshotted (bounds the replay after a crash). */
        snapshotIntervalMs: positiveInt.default(30_000),
        /**
         * Where snapshots go: files under `<dataDir>/state` (a disk per instance), or the compacted state topic.
         * auto = the topic when kafka.brokers is set, files in the embedded deployment.
         */
        stateStore: z.enum(['auto', 'files', 'kafka']).default('auto'),
      })
      .prefault({}),
    http: z
      .object({
        // Not z.coerce.boolean(): it reads any non-empty string, "false" included, as true. Env text goes through load.ts.
        enabled: z.boolean().default(true),
        host: z.string().default('127.0.0.1'),
        port: z.coerce.number().int().min(0).max(65535).default(9464),
      })
      .prefault({}),
    /**
     * The synchronous scoring API for the payment gateway (src/api/): `POST /v1/score` and `/v1/score/batch` produce the
     * transaction to the transactions topic and answer with the stream's decision (README, "Scoring API").
     */
    api: z
      .object({
        /** Off by default for `run` and library use; `demo` turns it on unless set (a key is generated when none is given). */
        enabled: z.boolean().default(false),
        host: z.string().default('127.0.0.1'),
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        /**
         * API keys, each stored as the sha256 hex of the key (`fraudstream api-key` makes one): a hash in a file or an env
         * var does not let anyone call the API. `FRAUDSTREAM_API_KEYS` holds the same list as JSON.
         */
        keys: z
          .array(
            z.object({
              id: z.string().min(1).max(64),
              hash: z.string().regex(/^[0-9a-f]{64}$/, 'hash must be the sha256 of the key, 64 lowercase hex digits'),
              scopes: z.array(z.enum(['score', 'admin'])).min(1),
              /** Token bucket: tokens added per second, and the bucket's size (the burst a key may send at once). */
              ratePerSecond: z.number().positive().default(1_000),
              burst: positiveInt.default(2_000),
            }),
          )
          .default([]),
        /** Most transactions in one `/v1/score/batch` request. */
        maxBatch: positiveInt.default(100),
        /** Transactions awaiting a decision across all requests; a request past it is answered 503 at once, never queued. */
        maxConcurrent: positiveInt.default(2_000),
        /** How long a request waits for the stream's decision; past it the fallback rules answer (`fallback: true`). */
        deadlineMs: positiveInt.default(80),
        /**
         * How long a request answered by the fallback keeps waiting, off the response, for the stream's decision, so a
         * retry gets the decision of record; if none comes, `scores` is asked once (a retry whose first try was decided
         * long ago: the stream's dedupe drops the record the retry produced).
         */
        settleMs: positiveInt.default(10_000),
        idempotency: z
          .object({
            /** Decisions kept for retries; the gateway's retry window must be shorter than ttlMs. */
            maxEntries: positiveInt.default(100_000),
            ttlMs: positiveInt.default(10 * 60 * 1000),
          })
          .prefault({}),
        bodyLimitBytes: positiveInt.default(1024 * 1024),
      })
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .prefault({}),
    /** The analyst side: when labels count as final (label-based queries, `fraudstream drift`), and drift (the command, the job's drift gauges). */
    analytics: z
      .object({
        /**
         * How many days after a transaction its label is considered final. Chargebacks arrive weeks after the
         * payment (card schemes allow a cardholder months to dispute), so a transaction younger than this may still
         * turn out fraudulent: queries and the drift command count only transactions at least this old as labelled
         * (fraud or not), and leave younger ones out rather than calling them legitimate.
         */
        labelMaturityDays: positiveInt.default(30),
        drift: z
          .object({
            /** PSI or KS at or above: warn (exit code 1); at or above `alert`: alert (exit code 2). */
            warn: z.coerce.number().positive().default(0.15),
            alert: z.coerce.number().positive().default(0.2),
            /** PSI bins, cut at the reference window's quantiles (10: deciles). */
            bins: z.coerce.number().int().min(2).max(100).default(10),
            /** The default windows: the current one ends at the newest scored event, the reference one before it. */
            currentSpanMs: positiveInt.default(24 * 60 * 60 * 1000),
            referenceSpanMs: positiveInt.default(7 * 24 * 60 * 60 * 1000),
            /** Values kept per feature and window (reservoir sample past it): bounds ClickHouse memory per query. */
            sampleRows: positiveInt.default(100_000),
            /** How often the job recomputes the drift gauges, off the decision path; 0 turns them off. */
            intervalMs: nonNegativeInt.default(15 * 60 * 1000),
            /**
             * Retraining is advised when recall or F1 of the latest matured window is below the model's holdout
             * figure (its manifest) by at least this much (absolute: 0.1 = ten points).
             */
            retrainMargin: z.coerce.number().min(0).max(1).default(0.1),
            /** Days of the matured window judged for retraining: the last ones whose labels count as final. */
            retrainWindowDays: positiveInt.default(7),
          })
          .prefault({}),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    if (config.thresholds.review > config.thresholds.decline) {
      ctx.addIssue({
        code: 'custom',
        path: ['thresholds', 'review'],
        message: 'thresholds.review must not exceed thresholds.decline',
      })
    }
    if (
      config.alerts.digest.maxOffsetSpan !== undefined &&
      config.alerts.digest.maxOffsetSpan >= config.runtime.maxInFlight
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'digest', 'maxOffsetSpan'],
        message: `alerts.digest.maxOffsetSpan must stay below runtime.maxInFlight (${config.runtime.maxInFlight}): an open digest would otherwise pause its partition`,
      })
    }
    const tiers = config.infer.tiers
    if (tiers?.declineFrom !== undefined && tiers.declineFrom <= tiers.approveBelow) {
      ctx.addIssue({
        code: 'custom',
        path: ['infer', 'tiers', 'declineFrom'],
        message:
          'infer.tiers.declineFrom must be above infer.tiers.approveBelow: the band between them goes to the lineup',
      })
    }
    if (config.analytics.drift.warn > config.analytics.drift.alert) {
      ctx.addIssue({
        code: 'custom',
        path: ['analytics', 'drift', 'warn'],
        message: 'analytics.drift.warn must not exceed analytics.drift.alert',
      })
    }
    if (config.environment === 'production' && config.kafka.brokers.length === 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['kafka', 'brokers'],
        message: 'production needs kafka.brokers; the embedded mock cluster is for development and tests',
      })
    }
    if (config.environment === 'production') {
      for (const key of Object.keys(config.kafka.clientProperties)) {
        if (key.startsWith('test.mock.'))
          ctx.addIssue({
            code: 'custom',
            path: ['kafka', 'clientProperties', key],
            message: 'test.mock.* properties force plaintext and are refused in production',
          })
      }
    }
  })

export type Config = z.infer<typeof ConfigSchema>
export type ConfigInput = z.input<typeof ConfigSchema>
