-- Question: how long does scoring take from poll to decision (p50/p99/max, ms), per model version and hour of decision?
-- Population: the deciding rows (model_role != 'shadow'), one per decision, under the model that decided: a shadow's
-- row repeats its transaction's latency, which would count the same wait once per model.
SELECT
    model_name,
    model_version,
    toStartOfHour(decided_at) AS hour,
    count() AS scored,
    round(quantile(0.5)(latency_ms), 2) AS p50_ms,
    round(quantile(0.99)(latency_ms), 2) AS p99_ms,
    round(max(latency_ms), 2) AS max_ms
FROM scores
WHERE run_id = 'live' AND model_role != 'shadow'
GROUP BY model_name, model_version, hour
ORDER BY hour DESC
LIMIT 48
