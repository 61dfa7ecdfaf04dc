-- Question: which transactions sent to review still have no label, oldest first (what analysts should look at next)?
-- Population: the deciding rows (model_role != 'shadow'): the reviews that were sent, whichever model (or the
-- fallback rules) decided them; a shadow's review sends nothing.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {top:UInt32} = 100
-- waiting_hours runs to the newest scored event (data time, so a replay reads the same).
WITH (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest
SELECT
    transaction_id,
    card_id,
    event_time,
    round(dateDiff('second', event_time, newest) / 3600, 1) AS waiting_hours,
    amount,
    currency,
    country,
    channel,
    round(score, 4) AS score,
    reasons,
    model_name,
    model_version
FROM scores
WHERE run_id = {run_id:String}
    AND model_role != 'shadow'
    AND decision = 'review'
    AND transaction_id NOT IN (SELECT transaction_id FROM latest_labels WHERE run_id = 'live')
ORDER BY event_time, transaction_id
LIMIT {top:UInt32}
