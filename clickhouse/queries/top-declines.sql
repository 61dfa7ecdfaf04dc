-- Question: which declined transactions scored highest, and which reason codes explain them?
-- Population: the deciding rows (model_role != 'shadow'): declines that were made, each with the deciding model's
-- score (a fallback decline scores 0: no model scored it).
SELECT transaction_id, event_time, amount, currency, country, card_country, channel, round(score, 4) AS score, reasons
FROM scores
WHERE run_id = 'live' AND model_role != 'shadow' AND decision = 'decline'
ORDER BY score DESC, event_time DESC
LIMIT 25
