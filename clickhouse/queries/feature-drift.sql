-- Question: are the model's inputs drifting? Daily mean and p95 of key features, to compare with training.
SELECT
    toDate(event_time) AS day,
    count() AS n,
    round(avg(f_amount), 2) AS amount_mean,
    round(quantile(0.95)(f_amount), 2) AS amount_p95,
    round(avg(f_card_count_24h), 3) AS card_count_24h_mean,
    round(avg(f_is_abroad), 4) AS abroad_share,
    round(avg(f_is_card_not_present), 4) AS cnp_share,
    round(avg(score), 4) AS score_mean
FROM scores
WHERE run_id = 'live'
GROUP BY day
ORDER BY day
