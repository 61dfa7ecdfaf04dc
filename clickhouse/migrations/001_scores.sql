-- One row per (transaction_id, model, run_id): every score with the features the model saw at scoring time.
-- Inserts carry a deterministic insert_deduplication_token (table:topic:partition:first-last offsets), and
-- non_replicated_deduplication_window makes ClickHouse drop a retried block on a plain MergeTree.
CREATE TABLE IF NOT EXISTS scores
(
    transaction_id   String,
    card_id          String,
    customer_id      String,
    merchant_id      String,
    terminal_id      String,
    amount           Float64,
    currency         LowCardinality(String),
    mcc              LowCardinality(String),
    country          LowCardinality(String),
    card_country     LowCardinality(String),
    channel          LowCardinality(String),
    event_time       DateTime64(3, 'UTC'),
    decided_at       DateTime64(3, 'UTC'),
    score            Float32,
    decision         LowCardinality(String),
    reasons          Array(LowCardinality(String)),
    rules            Array(LowCardinality(String)),
    model_name       LowCardinality(String),
    model_version    LowCardinality(String),
    feature_contract LowCardinality(String),
    features         Map(LowCardinality(String), Float64),
    late             Bool,
    latency_ms       Float32,
    source_topic     LowCardinality(String),
    source_partition UInt32,
    source_offset    UInt64,
    run_id           LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (run_id, model_name, event_time, transaction_id)
SETTINGS non_replicated_deduplication_window = 10000;
