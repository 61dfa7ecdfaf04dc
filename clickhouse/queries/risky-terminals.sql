-- Question: which terminals are the riskiest over the latest days: most confirmed fraud per transaction, then most
-- flagged by the model? Fraud counts the labels known so far (unlabelled = legitimate until a label says otherwise).
-- Population: the deciding rows (model_role != 'shadow'), one per transaction: what was flagged, by whichever model (or
-- the fallback rules) decided; avg_score leaves out fallback decisions, whose score 0 is no model's.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {days:UInt32} = 7                   days of event time, up to the newest scored event
--   {min_transactions:UInt32} = 20      fewer transactions than this say little: left out
--   {top:UInt32} = 25
WITH (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest
SELECT
    s.terminal_id AS terminal_id,
    count() AS transactions,
    countIf(s.decision != 'approve') AS flagged,
    countIf(s.decision = 'decline') AS declined,
    round(avgIf(s.score, s.model_role != 'fallback'), 4) AS avg_score,
    countIf(l.is_fraud) AS frauds,
    round(frauds / transactions, 4) AS fraud_rate,
    round(sumIf(s.amount, l.is_fraud), 2) AS fraud_amount
FROM scores AS s
LEFT JOIN (SELECT transaction_id, is_fraud FROM latest_labels WHERE run_id = 'live') AS l
    ON l.transaction_id = s.transaction_id
WHERE s.run_id = {run_id:String} AND s.event_time > newest - toIntervalDay({days:UInt32}) AND s.model_role != 'shadow'
GROUP BY terminal_id
HAVING transactions >= {min_transactions:UInt32}
ORDER BY fraud_rate DESC, flagged / transactions DESC, transactions DESC, terminal_id
LIMIT {top:UInt32}
