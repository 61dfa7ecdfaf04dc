-- Question: on the same transactions, how do shadow models compare with the champion: how often they agree with its
-- decision, how their alert rates differ, and how many of the labelled frauds each would catch?
-- The champion is the model that scored most in the window (it scores every transaction; a shadow writes rows under
-- its own model_name for the transactions it saw). Only transactions both scored are compared, so the rows match.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {days:UInt32} = 7                   days of event time, up to the newest scored event
-- Columns: model_name, model_version, role (champion | shadow), transactions, approved, reviewed, declined,
-- avg_score, agreement (share of the same decision as the champion), frauds, caught (alerted frauds), recall,
-- precision. Labels as in label-metrics.sql: unlabelled counts as legitimate.
WITH
    (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest,
    windowed AS
    (
        SELECT transaction_id, model_name, model_version, score, decision
        FROM scores
        WHERE run_id = {run_id:String} AND event_time > newest - toIntervalDay({days:UInt32})
    ),
    champion AS
    (
        SELECT model_name, model_version FROM windowed
        GROUP BY model_name, model_version ORDER BY count() DESC, model_name, model_version LIMIT 1
    )
SELECT
    m.model_name AS model_name,
    m.model_version AS model_version,
    if((m.model_name, m.model_version) IN (SELECT model_name, model_version FROM champion), 'champion', 'shadow') AS role,
    count() AS transactions,
    countIf(m.decision = 'approve') AS approved,
    countIf(m.decision = 'review') AS reviewed,
    countIf(m.decision = 'decline') AS declined,
    round(avg(m.score), 4) AS avg_score,
    round(countIf(m.decision = ch.decision) / transactions, 4) AS agreement,
    countIf(l.is_fraud) AS frauds,
    countIf(l.is_fraud AND m.decision != 'approve') AS caught,
    round(if(frauds = 0, NULL, caught / frauds), 4) AS recall,
    round(if(countIf(m.decision != 'approve') = 0, NULL, caught / countIf(m.decision != 'approve')), 4) AS precision
FROM windowed AS m
INNER JOIN
(
    SELECT transaction_id, decision FROM windowed
    WHERE (model_name, model_version) IN (SELECT model_name, model_version FROM champion)
) AS ch ON ch.transaction_id = m.transaction_id
LEFT JOIN (SELECT transaction_id, is_fraud FROM latest_labels WHERE run_id = 'live') AS l
    ON l.transaction_id = m.transaction_id
GROUP BY model_name, model_version
ORDER BY role, model_name, model_version
