-- scores, laid out for the questions analysts ask: partitioned by day (a day's data is dropped or moved as one),
-- ordered by run, model and hour, then card (a time range reads its hours only; a card's history reads one granule
-- per hour, fewer with the bloom filter), codecs where the values have a shape. Features move out of the Map into
-- one Float32 column per feature, `f_<name>`, added for the configured feature set when the job starts (a single
-- feature reads its own column; `features` is kept as an alias map for queries that want them all).
-- Rows already in scores are copied over; their features stay readable through the same f_ columns, computed from
-- `features_001` (a feature they were not scored with reads nan). A statement after `-- when:` runs only if that
-- query answers more than 0: so a crash anywhere in this file is repaired by running it again.
CREATE TABLE IF NOT EXISTS scores_next
(
    transaction_id   String CODEC(ZSTD(1)),
    card_id          String CODEC(ZSTD(1)),
    customer_id      String CODEC(ZSTD(1)),
    merchant_id      String CODEC(ZSTD(1)),
    terminal_id      String CODEC(ZSTD(1)),
    amount           Float64 CODEC(ZSTD(1)),
    currency         LowCardinality(String),
    mcc              LowCardinality(String),
    country          LowCardinality(String),
    card_country     LowCardinality(String),
    channel          LowCardinality(String),
    event_time       DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    decided_at       DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    score            Float32 CODEC(ZSTD(1)),
    decision         LowCardinality(String),
    reasons          Array(LowCardinality(String)),
    rules            Array(LowCardinality(String)),
    model_name       LowCardinality(String),
    model_version    LowCardinality(String),
    feature_contract LowCardinality(String),
    late             Bool,
    latency_ms       Float32 CODEC(ZSTD(1)),
    source_topic     LowCardinality(String),
    source_partition UInt32 CODEC(T64, ZSTD(1)),
    source_offset    UInt64 CODEC(Delta, ZSTD(1)),
    run_id           LowCardinality(String),
    features_001     Map(LowCardinality(String), Float64) CODEC(ZSTD(1)),
    INDEX card_id_bloom card_id TYPE bloom_filter(0.01) GRANULARITY 1,
    INDEX transaction_id_bloom transaction_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toDate(event_time)
ORDER BY (run_id, model_name, toStartOfHour(event_time), card_id, event_time)
SETTINGS non_replicated_deduplication_window = 10000;

-- when: SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'scores' AND name = 'features' AND type LIKE 'Map%' AND default_kind = ''
TRUNCATE TABLE scores_next;

-- when: SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'scores' AND name = 'features' AND type LIKE 'Map%' AND default_kind = ''
INSERT INTO scores_next
SELECT transaction_id, card_id, customer_id, merchant_id, terminal_id, amount, currency, mcc, country, card_country,
       channel, event_time, decided_at, score, decision, reasons, rules, model_name, model_version, feature_contract,
       late, latency_ms, source_topic, source_partition, source_offset, run_id, features
FROM scores;

-- when: SELECT count() FROM system.columns WHERE database = currentDatabase() AND table = 'scores' AND name = 'features' AND type LIKE 'Map%' AND default_kind = ''
RENAME TABLE scores TO scores_001, scores_next TO scores;

-- A fresh install copied nothing: the old table goes. One with rows stays as scores_001 until you drop it.
-- when: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'scores_001' AND total_rows = 0
DROP TABLE scores_001;

DROP TABLE IF EXISTS scores_next;
