-- Backtest reports (`fraudstream backtest`, and `replay` at its end): one row per model of a report, the baseline
-- (the first model, the one the others are compared with) marked is_baseline. A report is the rows of one run_id
-- with one created_at; rerunning it (a later label cutoff) adds a report rather than overwriting one, so the latest
-- is `WHERE run_id = … AND created_at = (SELECT max(created_at) FROM backtest_reports WHERE run_id = …)`.
-- Label-based figures count transactions at least maturity_days older than label_cutoff (labels_run_id's labels, the
-- latest reported at or before the cutoff); rates and alerts count every row of the model. diff_* = the figure minus
-- the baseline's (0 on the baseline's row); NULL where a figure cannot be computed (no fraud, no negatives).
CREATE TABLE IF NOT EXISTS backtest_reports
(
    run_id                 LowCardinality(String),
    created_at             DateTime64(3, 'UTC'),
    position               UInt16,
    model_name             LowCardinality(String),
    model_version          LowCardinality(String),
    is_baseline            Bool,
    label_cutoff           DateTime64(3, 'UTC'),
    maturity_days          UInt32,
    labels_run_id          LowCardinality(String),
    first_event_time       DateTime64(3, 'UTC'),
    last_event_time        DateTime64(3, 'UTC'),
    transactions           UInt64,
    matured                UInt64,
    left_out_immature      UInt64,
    frauds                 UInt64,
    auc_pr                 Nullable(Float64),
    recall_at_1pct_fpr     Nullable(Float64),
    card_precision_k       UInt32,
    card_precision         Nullable(Float64),
    card_precision_by_day  Map(Date, Float64),
    review_rate            Float64,
    decline_rate           Float64,
    fraud_amount           Float64,
    fraud_amount_caught    Float64,
    alerts_per_day         Float64,
    alerts_by_day          Map(Date, UInt64),
    diff_auc_pr            Nullable(Float64),
    diff_recall_at_1pct_fpr Nullable(Float64),
    diff_card_precision    Nullable(Float64),
    diff_review_rate       Float64,
    diff_decline_rate      Float64,
    diff_fraud_amount_caught Float64,
    diff_alerts_per_day    Float64
)
ENGINE = MergeTree
ORDER BY (run_id, created_at, position);
