-- Question: while a challenger runs an A/B test (each card in one arm: ab_arm), how does each arm fare: the decisions
-- made in it, their alert rate and the labelled frauds they caught, next to what the other models would have decided
-- for the same cards?
-- Population: the rows of transactions with an arm in the window, one line per arm, model version and role there.
-- An arm's decisions are its lines with role != 'shadow' (its deciding model, and fallback when no model could score);
-- its shadow lines are the other models on the same cards (the champion in the challenger's arm, the challenger in
-- the champion's). A new challenger draws a fresh split: narrow {days} to one experiment.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {days:UInt32} = 7                   days of event time, up to the newest scored event
-- Columns: arm (champion | challenger), model_name, model_version, role (champion | challenger | shadow | fallback),
-- transactions, cards, approved, reviewed, declined, alert_rate, avg_score (NULL for fallback), frauds, caught (alerted
-- frauds), recall, precision. Labels as in label-metrics.sql: unlabelled counts as legitimate.
WITH (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest
SELECT
    s.ab_arm AS arm,
    s.model_name AS model_name,
    s.model_version AS model_version,
    s.model_role AS role,
    count() AS transactions,
    uniqExact(s.card_id) AS cards,
    countIf(s.decision = 'approve') AS approved,
    countIf(s.decision = 'review') AS reviewed,
    countIf(s.decision = 'decline') AS declined,
    round((reviewed + declined) / transactions, 4) AS alert_rate,
    if(role = 'fallback', NULL, round(avg(s.score), 4)) AS avg_score,
    countIf(l.is_fraud) AS frauds,
    countIf(l.is_fraud AND s.decision != 'approve') AS caught,
    round(if(frauds = 0, NULL, caught / frauds), 4) AS recall,
    round(if(reviewed + declined = 0, NULL, caught / (reviewed + declined)), 4) AS precision
FROM scores AS s
LEFT JOIN (SELECT transaction_id, is_fraud FROM latest_labels WHERE run_id = 'live') AS l
    ON l.transaction_id = s.transaction_id
WHERE s.run_id = {run_id:String} AND s.event_time > newest - toIntervalDay({days:UInt32}) AND s.ab_arm != ''
GROUP BY arm, model_name, model_version, role
ORDER BY arm, role = 'shadow', role, model_name, model_version
