-- Several models score each transaction: the champion (or, in an A/B test, the challenger for its arm) decides, shadows
-- only score. Every model's score is a row, and model_role is the part the model played for that transaction: champion
-- or challenger when it decided, shadow when it only scored (a shadow, or the champion for a card in the challenger's
-- arm), fallback when no model could score and the fallback rules decided (score 0). What was decided: the rows with
-- model_role != 'shadow', one per transaction; a model's quality: its own rows, whatever their role.
-- ab_arm is the card's arm while a challenger runs ('' otherwise), on every row of the transaction. explanation_* are the deciding model's top feature
-- contributions to its margin (log-odds), largest magnitude first; empty for a model whose graph does not explain.
ALTER TABLE scores
    ADD COLUMN IF NOT EXISTS model_role LowCardinality(String) DEFAULT 'champion' AFTER model_version,
    ADD COLUMN IF NOT EXISTS ab_arm LowCardinality(String) DEFAULT '' AFTER model_role,
    ADD COLUMN IF NOT EXISTS explanation_features Array(LowCardinality(String)) AFTER rules,
    ADD COLUMN IF NOT EXISTS explanation_values Array(Float32) AFTER explanation_features;

-- The rollups keep roles apart, so a day's transactions are not counted once per shadow. A sorting-key column cannot
-- have a default: minutes rolled up before this read model_role '' (all of them deciding rows).
-- when: SELECT count() = 0 FROM system.columns WHERE database = currentDatabase() AND table = 'scores_minutely' AND name = 'model_role'
ALTER TABLE scores_minutely
    ADD COLUMN model_role LowCardinality(String),
    MODIFY ORDER BY (run_id, model_name, model_version, minute, model_role);

-- when: SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'scores_minutely_mv' AND position(create_table_query, 'model_role') = 0
DROP TABLE scores_minutely_mv;

CREATE MATERIALIZED VIEW IF NOT EXISTS scores_minutely_mv TO scores_minutely AS
SELECT
    toStartOfMinute(event_time) AS minute,
    run_id,
    model_name,
    model_version,
    model_role,
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
GROUP BY minute, run_id, model_name, model_version, model_role;
