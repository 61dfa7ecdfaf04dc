-- Question: which declined transactions scored highest, and which reason codes explain them?
SELECT transaction_id, event_time, amount, currency, country, card_country, channel, round(score, 4) AS score, reasons
FROM scores
WHERE run_id = 'live' AND decision = 'decline'
ORDER BY score DESC, event_time DESC
LIMIT 25
