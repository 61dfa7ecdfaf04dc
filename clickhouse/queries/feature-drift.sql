-- Question: are the model's inputs drifting? Daily mean and p95 of key features, to compare with training.
-- Population: one model version's own rows, whatever part it played (champion, challenger or shadow), without
-- fallback rows (no model scored those): score_mean is that model's, and each transaction counts once.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {model:String} = ''                 model_name; '' = the one that decided most as champion in the latest day
--   {model_version:String} = ''         '' = the version of that model that decided most there (then: scored most)
WITH
    (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest,
    -- The latest day up to the newest scored event: drift.sql's default current window, so both pick one model.
    newest - INTERVAL 1 DAY AS latest_day,
    if({model:String} != '', {model:String},
       (SELECT model_name FROM scores
        WHERE run_id = {run_id:String} AND event_time > latest_day AND model_role IN ('champion', '')
        GROUP BY model_name ORDER BY count() DESC, model_name LIMIT 1)) AS model,
    if({model_version:String} != '', {model_version:String},
       (SELECT model_version FROM scores
        WHERE run_id = {run_id:String} AND event_time > latest_day AND model_name = model
          AND model_role != 'fallback'
        GROUP BY model_version
        ORDER BY countIf(model_role IN ('champion', '')) DESC, count() DESC, model_version DESC LIMIT 1)) AS version
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
WHERE run_id = {run_id:String} AND model_name = model AND model_version = version AND model_role != 'fallback'
GROUP BY day
ORDER BY day
