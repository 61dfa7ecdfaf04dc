-- Question: how many alerts does each day raise (declines go out at once, reviews in digests), what share of
-- transactions and how many cards do they touch?
-- Population: the deciding rows (model_role != 'shadow'), one per transaction, per deciding model: in an A/B test the
-- champion and the challenger each have their arm's line; a decision of the fallback rules counts under the champion
-- it stood in for (its model_name). A shadow's would-be alerts are in champion-vs-shadow.sql.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {days:UInt32} = 30                  the latest days of event time shown
SELECT
    toDate(event_time) AS day,
    model_name,
    model_version,
    count() AS transactions,
    countIf(decision != 'approve') AS alerts,
    countIf(decision = 'decline') AS immediate,
    countIf(decision = 'review') AS digest,
    round(alerts / transactions, 4) AS alert_rate,
    uniqExactIf(card_id, decision != 'approve') AS cards_alerted,
    round(sumIf(amount, decision != 'approve'), 2) AS alerted_amount
FROM scores
WHERE run_id = {run_id:String} AND model_role != 'shadow'
GROUP BY day, model_name, model_version
ORDER BY day DESC, model_name, model_version
LIMIT {days:UInt32} BY model_name, model_version
