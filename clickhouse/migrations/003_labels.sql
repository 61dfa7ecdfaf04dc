-- Labels as they arrive on the labels topic: one row per label record (a transaction may get several: a customer
-- report, then a chargeback). Written by the labels sink with offset-range dedup tokens, like scores, and resumed
-- after the highest source offset already here.
CREATE TABLE IF NOT EXISTS labels
(
    transaction_id   String CODEC(ZSTD(1)),
    card_id          String CODEC(ZSTD(1)),
    is_fraud         Bool,
    source           LowCardinality(String),
    reported_at      DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    transaction_time Nullable(DateTime64(3, 'UTC')) CODEC(ZSTD(1)),
    terminal_id      String CODEC(ZSTD(1)),
    merchant_id      String CODEC(ZSTD(1)),
    -- When the label reached Kafka (the record's timestamp): when fraudstream could first know it.
    known_at         DateTime64(3, 'UTC') CODEC(DoubleDelta, ZSTD(1)),
    source_topic     LowCardinality(String),
    source_partition UInt32 CODEC(T64, ZSTD(1)),
    source_offset    UInt64 CODEC(Delta, ZSTD(1)),
    run_id           LowCardinality(String),
    INDEX transaction_id_bloom transaction_id TYPE bloom_filter(0.01) GRANULARITY 1
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(reported_at)
ORDER BY (run_id, reported_at, transaction_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- The latest label of each transaction (by reported_at, then offset: the topic's order among labels reported at the
-- same time), and when the first and the latest became known.
CREATE VIEW IF NOT EXISTS latest_labels AS
SELECT
    run_id,
    transaction_id,
    tupleElement(latest, 1) AS is_fraud,
    tupleElement(latest, 2) AS source,
    tupleElement(latest, 3) AS reported_at,
    first_known_at,
    last_known_at AS known_at,
    labels
FROM
(
    SELECT
        l.run_id AS run_id,
        l.transaction_id AS transaction_id,
        argMax((l.is_fraud, l.source, l.reported_at), (l.reported_at, l.source_offset)) AS latest,
        min(l.known_at) AS first_known_at,
        max(l.known_at) AS last_known_at,
        count() AS labels
    FROM labels AS l
    GROUP BY l.run_id, l.transaction_id
);
