-- Question: as labels arrive, how well does each model catch fraud per day: precision, recall and F1 of its alerts
-- (review or decline), AUC-PR of its scores, and card precision@k (of the k cards it scored highest that day, the
-- share with a fraud)? Recent days are not final: fraud is reported up to weeks later.
-- Label maturity: label_age_days is the time from the end of the day to the newest scored event (data time, so a
-- replay reads the same); a day is mature once that reaches {maturity_days} (analytics.labelMaturityDays). Figures of
-- immature days only rise as chargebacks arrive: read them as lower bounds of recall.
-- A transaction without a label counts as legitimate; the latest label of a transaction wins (latest_labels).
-- Population: each model version's own rows, whatever part it played (champion, challenger, or shadow: the decision
-- its thresholds would have made), so a line is one model's quality on the transactions it scored. Fallback rows are
-- left out: their score 0 and the rules' decision are no model's. What was decided is in alert-volume.sql.
-- Parameters:
--   {run_id:String} = live              the scores' run: 'live', or a replay's --run-id
--   {maturity_days:UInt16} = 30
--   {k:UInt16} = 100                    cards per day for card precision@k (fewer cards that day: all of them)
--   {days:UInt32} = 60                  the latest days shown
-- Columns: day, model_name, model_version, transactions, labelled, frauds, alerts, true_positives, precision, recall,
-- f1, auc_pr, card_precision_at_k, label_age_days, mature. A ratio with nothing to divide by is NULL.
-- AUC-PR is average precision: Σ over distinct scores, highest first, of (recall gained) × precision there.
WITH
    (SELECT max(event_time) FROM scores WHERE run_id = {run_id:String}) AS newest,
    scored AS
    (
        SELECT
            toDate(s.event_time) AS day,
            s.model_name AS model_name,
            s.model_version AS model_version,
            s.card_id AS card_id,
            s.score AS score,
            s.decision != 'approve' AS alerted,
            l.has_label AS has_label,
            l.is_fraud AS is_fraud
        FROM scores AS s
        LEFT JOIN (SELECT transaction_id, 1 AS has_label, is_fraud FROM latest_labels WHERE run_id = 'live') AS l
            ON l.transaction_id = s.transaction_id
        WHERE s.run_id = {run_id:String} AND s.model_role != 'fallback'
    ),
    counts AS
    (
        SELECT day, model_name, model_version, count() AS transactions, countIf(has_label = 1) AS labelled,
               countIf(is_fraud) AS frauds, countIf(alerted) AS alerts, countIf(alerted AND is_fraud) AS true_positives
        FROM scored
        GROUP BY day, model_name, model_version
    ),
    ap AS
    (
        SELECT
            day, model_name, model_version,
            -- Thresholds at each distinct score, highest first; ties share one threshold, as in scikit-learn.
            arraySort(x -> -x.1, groupArray((score, positives, n))) AS thresholds,
            arrayCumSum(arrayMap(x -> x.2, thresholds)) AS tp,
            arrayCumSum(arrayMap(x -> x.3, thresholds)) AS predicted,
            if(tp[-1] = 0, NULL, arraySum(arrayMap((x, t, m) -> x.2 * (t / m), thresholds, tp, predicted)) / tp[-1]) AS auc_pr
        FROM
        (
            SELECT day, model_name, model_version, score, countIf(is_fraud) AS positives, count() AS n
            FROM scored
            GROUP BY day, model_name, model_version, score
        )
        GROUP BY day, model_name, model_version
    ),
    cards AS
    (
        SELECT day, model_name, model_version, avg(compromised) AS card_precision_at_k
        FROM
        (
            SELECT day, model_name, model_version, card_id, max(score) AS top_score, max(is_fraud) AS compromised,
                   row_number() OVER (PARTITION BY day, model_name, model_version ORDER BY top_score DESC, card_id) AS rank
            FROM scored
            GROUP BY day, model_name, model_version, card_id
        )
        WHERE rank <= {k:UInt16}
        GROUP BY day, model_name, model_version
    )
SELECT
    c.day AS day,
    c.model_name AS model_name,
    c.model_version AS model_version,
    c.transactions AS transactions,
    c.labelled AS labelled,
    c.frauds AS frauds,
    c.alerts AS alerts,
    c.true_positives AS true_positives,
    round(if(c.alerts = 0, NULL, c.true_positives / c.alerts), 4) AS precision,
    round(if(c.frauds = 0, NULL, c.true_positives / c.frauds), 4) AS recall,
    round(if(c.alerts + c.frauds = 0, NULL, 2 * c.true_positives / (c.alerts + c.frauds)), 4) AS f1,
    round(a.auc_pr, 4) AS auc_pr,
    round(k.card_precision_at_k, 4) AS card_precision_at_k,
    round(greatest(0, dateDiff('second', toDateTime(c.day + 1, 'UTC'), newest)) / 86400, 1) AS label_age_days,
    toBool(label_age_days >= {maturity_days:UInt16}) AS mature
FROM counts AS c
INNER JOIN ap AS a ON a.day = c.day AND a.model_name = c.model_name AND a.model_version = c.model_version
INNER JOIN cards AS k ON k.day = c.day AND k.model_name = c.model_name AND k.model_version = c.model_version
ORDER BY day DESC, model_name, model_version
LIMIT {days:UInt32} BY model_name, model_version
