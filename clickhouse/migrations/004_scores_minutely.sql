-- When each scored record reached Kafka (its timestamp): event → decision latency is decided_at − source_timestamp.
-- Rows written before this migration read event_time, the best they have.
ALTER TABLE scores ADD COLUMN IF NOT EXISTS source_timestamp DateTime64(3, 'UTC') DEFAULT event_time
    CODEC(DoubleDelta, ZSTD(1)) AFTER source_offset;

-- Per-minute rollups per run and model, kept up to date by ClickHouse as scores are inserted: dashboards and the
-- query pack read a day as 1,440 rows instead of every score. Merge the states with -Merge (sumForEachMerge, …).
CREATE TABLE IF NOT EXISTS scores_minutely
(
    minute           DateTime('UTC'),
    run_id           LowCardinality(String),
    model_name       LowCardinality(String),
    model_version    LowCardinality(String),
    transactions     SimpleAggregateFunction(sum, UInt64),
    approved         SimpleAggregateFunction(sum, UInt64),
    reviewed         SimpleAggregateFunction(sum, UInt64),
    declined         SimpleAggregateFunction(sum, UInt64),
    late             SimpleAggregateFunction(sum, UInt64),
    amount           SimpleAggregateFunction(sum, Float64),
    -- Poll → decision and event (Kafka timestamp) → decision, ms: p50, p99, p99.9.
    latency_ms       AggregateFunction(quantilesTDigest(0.5, 0.99, 0.999), Float32),
    event_latency_ms AggregateFunction(quantilesTDigest(0.5, 0.99, 0.999), Float64),
    -- Scores in 20 bins of 0.05: bin i counts scores in [i/20, (i+1)/20), the last one includes 1.
    score_bins       AggregateFunction(sumForEach, Array(UInt64))
)
ENGINE = AggregatingMergeTree
PARTITION BY toDate(minute)
ORDER BY (run_id, model_name, model_version, minute);

CREATE MATERIALIZED VIEW IF NOT EXISTS scores_minutely_mv TO scores_minutely AS
SELECT
    toStartOfMinute(event_time) AS minute,
    run_id,
    model_name,
    model_version,
    count() AS transactions,
    countIf(decision = 'approve') AS approved,
    countIf(decision = 'review') AS reviewed,
    countIf(decision = 'decline') AS declined,
    countIf(late) AS late,
    sum(amount) AS amount,
    quantilesTDigestState(0.5, 0.99, 0.999)(latency_ms) AS latency_ms,
    quantilesTDigestState(0.5, 0.99, 0.999)(toFloat64(dateDiff('millisecond', source_timestamp, decided_at))) AS event_latency_ms,
    sumForEachState(arrayMap(i -> toUInt64(i = least(19, toUInt32(greatest(score, 0) * 20))), range(20))) AS score_bins
FROM scores
GROUP BY minute, run_id, model_name, model_version;

-- Rows already in scores, once: the view only sees inserts made after it exists.
-- when: SELECT (SELECT count() FROM scores_minutely) = 0 AND (SELECT count() FROM scores) > 0
INSERT INTO scores_minutely
SELECT
    toStartOfMinute(event_time) AS minute,
    run_id,
    model_name,
    model_version,
    count(),
    countIf(decision = 'approve'),
    countIf(decision = 'review'),
    countIf(decision = 'decline'),
    countIf(late),
    sum(amount),
    quantilesTDigestState(0.5, 0.99, 0.999)(latency_ms),
    quantilesTDigestState(0.5, 0.99, 0.999)(toFloat64(dateDiff('millisecond', source_timestamp, decided_at))),
    sumForEachState(arrayMap(i -> toUInt64(i = least(19, toUInt32(greatest(score, 0) * 20))), range(20)))
FROM scores
GROUP BY minute, run_id, model_name, model_version;
