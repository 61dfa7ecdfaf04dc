-- Question: how long does a payment wait for its decision, from its record reaching Kafka to the decision (event →
-- decision, ms), per minute and model version: p50, p99 and p99.9?
-- Read from the scores_minutely rollup (minutes of event time), so a day costs 1,440 rows per model, not every score.
-- Population: the deciding rows (model_role != 'shadow'; '' for minutes rolled up before roles existed), one per
-- decision under the model that decided: a shadow's row repeats its transaction's timestamps.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {minutes:UInt32} = 60               the latest minutes shown, per model version
SELECT
    minute,
    model_name,
    model_version,
    transactions,
    round(q[1], 2) AS p50_ms,
    round(q[2], 2) AS p99_ms,
    round(q[3], 2) AS p999_ms
FROM
(
    SELECT
        minute,
        model_name,
        model_version,
        sum(transactions) AS transactions,
        quantilesTDigestMerge(0.5, 0.99, 0.999)(event_latency_ms) AS q
    FROM scores_minutely
    WHERE run_id = {run_id:String} AND model_role != 'shadow'
    GROUP BY minute, model_name, model_version
)
ORDER BY minute DESC, model_name, model_version
LIMIT {minutes:UInt32} BY model_name, model_version
