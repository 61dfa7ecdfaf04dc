-- Question: on the same transactions, how does every model compare with what was decided: how often its decision
-- agrees with the deciding one, how its alert rate differs, and how many of the labelled frauds each would catch?
-- Population: each model version's own rows in the window, whatever part it played, against the deciding row of the
-- same transaction (model_role != 'shadow': the champion's, a challenger's for its A/B arm, or the fallback rules').
-- A shadow's decision is the one its own thresholds would have made. Fallback rows (no model could score; score 0)
-- are a line of their own, under the champion that failed, so the decisions no model made are counted too.
-- Per A/B arm (ab_arm): ab-test.sql.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {days:UInt32} = 7                   days of event time, up to the newest scored event
-- Columns: model_name, model_version, role (champion if it decided as champion in the window, else challenger if it
-- decided for an A/B arm, else shadow; fallback for the rules' line), transactions (its rows), decided (of them, the
-- deciding row), approved, reviewed, declined, avg_score (NULL for fallback), agreement (share with the same decision
-- as the deciding row), frauds, caught (alerted frauds), recall, precision. Labels as in label-metrics.sql:
-- unlabelled counts as legitimate.
WITH
    (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest,
    windowed AS
    (
        SELECT transaction_id, model_name, model_version, model_role, score, decision
        FROM scores
        WHERE run_id = {run_id:String} AND event_time > newest - toIntervalDay({days:UInt32})
    )
SELECT
    m.model_name AS model_name,
    m.model_version AS model_version,
    multiIf(
        m.model_role = 'fallback', 'fallback',
        countIf(m.model_role IN ('champion', '')) > 0, 'champion',
        countIf(m.model_role = 'challenger') > 0, 'challenger',
        'shadow') AS role,
    count() AS transactions,
    countIf(m.model_role != 'shadow') AS decided,
    countIf(m.decision = 'approve') AS approved,
    countIf(m.decision = 'review') AS reviewed,
    countIf(m.decision = 'decline') AS declined,
    if(role = 'fallback', NULL, round(avg(m.score), 4)) AS avg_score,
    round(countIf(m.decision = d.decision) / transactions, 4) AS agreement,
    countIf(l.is_fraud) AS frauds,
    countIf(l.is_fraud AND m.decision != 'approve') AS caught,
    round(if(frauds = 0, NULL, caught / frauds), 4) AS recall,
    round(if(countIf(m.decision != 'approve') = 0, NULL, caught / countIf(m.decision != 'approve')), 4) AS precision
FROM windowed AS m
INNER JOIN (SELECT transaction_id, decision FROM windowed WHERE model_role != 'shadow') AS d
    ON d.transaction_id = m.transaction_id
LEFT JOIN (SELECT transaction_id, is_fraud FROM latest_labels WHERE run_id = 'live') AS l
    ON l.transaction_id = m.transaction_id
GROUP BY m.model_name, m.model_version, m.model_role = 'fallback'
ORDER BY indexOf(['champion', 'challenger', 'shadow', 'fallback'], role), model_name, model_version
