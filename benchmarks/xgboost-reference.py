"""XGBoost with fraudstream's GBDT settings, for bench:train: reads train/valid/test CSVs (label first), prints JSON
with the test set's probabilities, the rounds kept and the fit time. Debian: apt-get install python3-xgboost."""
import json
import sys
import time

import numpy as np
import xgboost as xgb

params = json.loads(sys.argv[1])
folder = sys.argv[2]
load = lambda name: np.loadtxt(f"{folder}/{name}.csv", delimiter=",", dtype=np.float32)
train, valid, test = load("train"), load("valid"), load("test")
dtrain = xgb.DMatrix(train[:, 1:], label=train[:, 0])
dvalid = xgb.DMatrix(valid[:, 1:], label=valid[:, 0])
dtest = xgb.DMatrix(test[:, 1:], label=test[:, 0])
booster_params = {
    "objective": "binary:logistic",
    "eval_metric": "aucpr",
    "tree_method": "hist",
    "max_bin": params["maxBins"],
    "eta": params["learningRate"],
    "max_depth": params["maxDepth"],
    "min_child_weight": params["minChildWeight"],
    "lambda": params["l2"],
    "gamma": params["minSplitGain"],
    "subsample": params["subsample"],
    "colsample_bytree": params["colsample"],
    "scale_pos_weight": params["scalePosWeight"],
    "seed": params["seed"],
    "nthread": 1,
}
if params["maxLeaves"] > 0:
    booster_params.update({"grow_policy": "lossguide", "max_leaves": params["maxLeaves"]})
started = time.perf_counter()
booster = xgb.train(
    booster_params,
    dtrain,
    num_boost_round=params["rounds"],
    evals=[(dvalid, "valid")],
    early_stopping_rounds=params["earlyStoppingRounds"] or None,
    verbose_eval=False,
)
fit_s = time.perf_counter() - started
best = booster.best_iteration + 1 if params["earlyStoppingRounds"] else params["rounds"]
scores = booster.predict(dtest, iteration_range=(0, best))
print(json.dumps({"scores": scores.tolist(), "rounds": best, "fit_s": fit_s, "version": xgb.__version__}))
