"""Derive follicle's B12 population model from NHANES 1999-2006 and write the knowledge file.

Run from the repository root:

    .venv/bin/python benchmarks/nhanes/derive.py

Reads ONLY the cycles 1999-2000, 2001-2002, 2003-2004 and 2005-2006 (other rows are dropped while
the CSV is read). Writes src/follicle/knowledge/2026.1/b12_population.yaml and
benchmarks/results/nhanes_b12_internal.json. Deterministic; about 10-20 s.

Outline (see README.md in this folder for the reasoning):
1. Adults (>= 20 y), not pregnant; 1999-2000 women aged 20-44 excluded (pregnancy unknown).
2. Bio-Rad B12 values forward-regressed to the Roche Elecsys scale with the CDC/NCHS crosswalk,
   then outcome = B12 < 180, or B12 <= 350 and MMA > 0.45 umol/L.
3. Where the outcome is undetermined (B12 180-350 and no MMA: all of 2005-2006 and a few others)
   the expected outcome P(MMA > 0.45 | B12, predictors), from a logistic model fitted on the
   1999-2004 participants with MMA, is used as a fractional outcome.
4. One penalised logistic model: sex-specific piecewise-linear age (knots 20..90), four factors,
   piecewise-linear MCV (monotone from 90 fL up), sex-specific piecewise-linear Hb (LR
   non-increasing in Hb). Expressed as baseline points, odds ratios and likelihood-ratio points.
5. Internal validation: leave-one-cycle-out over 1999-2000/2001-2002/2003-2004, and a temporal
   split (fit 1999-2004, check 2005-2006); same for a plain main-effects logistic model.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nhanes_common as nc  # noqa: E402

LAMBDA_AGE = 4.0      # second-difference penalty on the age values (logit units)
LAMBDA_LAB = 2000.0   # first-difference penalty on the lab slopes (logit per fL or per g/L)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Data and outcome
# --------------------------------------------------------------------------------------------

def derivation_data() -> dict[str, np.ndarray]:
    d = nc.load_participants(nc.DERIVATION_CYCLES)
    assert set(d["cycle"].tolist()) <= set(nc.DERIVATION_CYCLES)
    d = nc.subset(d, nc.population_mask(d, exclude_unknown_pregnancy_1999=True))
    d["b12_roche"] = nc.b12_on_roche_scale(d)
    d["y_obs"] = nc.outcome(d["b12_roche"], d["mma_umol_l"])
    d["has_labs"] = (~np.isnan(d["mcv_fl"]) & ~np.isnan(d["hb_g_l"])).astype(float)
    return d


def imputation_design(d: dict[str, np.ndarray]) -> np.ndarray:
    """Predictors of MMA > 0.45 among people with B12 180-350 (Roche scale)."""
    hb = np.where(np.isnan(d["hb_g_l"]), np.where(d["female"] == 1, 135.0, 150.0), d["hb_g_l"])
    mcv = np.where(np.isnan(d["mcv_fl"]), 90.0, d["mcv_fl"])
    age = d["age_years"]
    return np.column_stack([
        np.ones(len(age)), np.log(d["b12_roche"] / 265.0), (age - 50) / 10,
        np.maximum(age - 60, 0) / 10, d["female"], d["metformin"], d["ppi"], d["h2ra"],
        d["b12_supplement"], (hb - 140) / 10, (mcv - 90) / 5,
    ])


def impute_outcome(train: dict[str, np.ndarray], target: dict[str, np.ndarray]) -> np.ndarray:
    """Observed outcome, with undetermined rows replaced by P(MMA > 0.45 | ...) from `train`."""
    mid_t = (train["b12_roche"] >= nc.B12_DEFICIENT) & (train["b12_roche"] <= nc.B12_INDETERMINATE_MAX)
    fit_rows = mid_t & ~np.isnan(train["y_obs"])
    X = imputation_design(nc.subset(train, fit_rows))
    ridge = np.diag([0.0] + [1.0] * (X.shape[1] - 1))  # tiny ridge for stability
    fit = nc.fit_logistic(X, train["y_obs"][fit_rows], penalty=ridge)
    y = target["y_obs"].copy()
    und = np.isnan(y)
    if und.any():
        y[und] = special.expit(imputation_design(nc.subset(target, und)) @ fit.coef)
    return y


# --------------------------------------------------------------------------------------------
# The structured model
# --------------------------------------------------------------------------------------------

def slope_columns(x: np.ndarray, knots: tuple[float, ...], ref: float) -> np.ndarray:
    """Columns whose coefficients are the slopes on each segment; value 0 at `ref`; clamped."""
    t = np.asarray(knots)
    xc = np.where(np.isnan(x), ref, x)
    cols = [np.clip(xc, a, b) - np.clip(ref, a, b) for a, b in zip(t[:-1], t[1:], strict=True)]
    return np.column_stack(cols)


class Layout:
    """Column layout of the structured design matrix."""

    def __init__(self) -> None:
        k_age = len(nc.AGE_KNOTS)
        self.age_f = slice(0, k_age)
        self.age_m = slice(k_age, 2 * k_age)
        i = 2 * k_age
        self.factors = slice(i, i + len(nc.FACTORS))
        i += len(nc.FACTORS)
        self.mcv = slice(i, i + len(nc.MCV_KNOTS) - 1)
        i += len(nc.MCV_KNOTS) - 1
        self.hb_f = slice(i, i + len(nc.HB_KNOTS["female"]) - 1)
        i += len(nc.HB_KNOTS["female"]) - 1
        self.hb_m = slice(i, i + len(nc.HB_KNOTS["male"]) - 1)
        i += len(nc.HB_KNOTS["male"]) - 1
        self.p = i


L = Layout()


def design(d: dict[str, np.ndarray]) -> np.ndarray:
    f = d["female"][:, None]
    age_h = nc.hat_basis(d["age_years"], nc.AGE_KNOTS)
    facs = np.column_stack([d[k] for k in nc.FACTORS])
    mcv = slope_columns(d["mcv_fl"], nc.MCV_KNOTS, nc.MCV_REF)
    hb_f = slope_columns(d["hb_g_l"], nc.HB_KNOTS["female"], nc.HB_REF["female"]) * f
    hb_m = slope_columns(d["hb_g_l"], nc.HB_KNOTS["male"], nc.HB_REF["male"]) * (1 - f)
    return np.column_stack([age_h * f, age_h * (1 - f), facs, mcv, hb_f, hb_m])


def penalty_and_bounds(lam_age: float, lam_lab: float) -> tuple[np.ndarray, list]:
    P = np.zeros((L.p, L.p))
    k = len(nc.AGE_KNOTS)
    for s in (L.age_f, L.age_m):
        P[s, s] += lam_age * nc.second_difference_penalty(k)
    for s in (L.mcv, L.hb_f, L.hb_m):
        n = s.stop - s.start
        D = np.diff(np.eye(n), axis=0)
        P[s, s] += lam_lab * (D.T @ D)
    bounds: list[tuple[float | None, float | None]] = [(None, None)] * L.p
    t = nc.MCV_KNOTS
    for j in range(len(t) - 1):  # MCV: LR non-decreasing from 90 fL upwards
        if t[j] >= nc.MCV_REF:
            bounds[L.mcv.start + j] = (0.0, None)
    for s in (L.hb_f, L.hb_m):  # Hb: LR non-increasing in Hb
        for j in range(s.start, s.stop):
            bounds[j] = (None, 0.0)
    return P, bounds


def fit_structured(d: dict[str, np.ndarray], y: np.ndarray,
                   lam_age: float = LAMBDA_AGE, lam_lab: float = LAMBDA_LAB) -> nc.LogitFit:
    keep = d["has_labs"] == 1
    X = design(nc.subset(d, keep))
    P, bounds = penalty_and_bounds(lam_age, lam_lab)
    x0 = np.zeros(L.p)
    x0[L.age_f] = x0[L.age_m] = special.logit(max(float(np.mean(y[keep])), 1e-3))
    return nc.fit_logistic(X, y[keep], penalty=P, bounds=bounds, x0=x0)


def express(fit: nc.LogitFit, d: dict[str, np.ndarray], y: np.ndarray) -> dict:
    """Turn the fitted coefficients into the knowledge-file mapping (unrounded)."""
    b = fit.coef
    keep = d["has_labs"] == 1
    w_non = (1.0 - y)[keep]  # weights of non-cases (fractional where imputed)
    dk = nc.subset(d, keep)
    # MCV: log LR normalised so that the mean LR among non-cases is 1 (a proper likelihood ratio)
    g = slope_columns(dk["mcv_fl"], nc.MCV_KNOTS, nc.MCV_REF) @ b[L.mcv]
    c_mcv = math.log(np.sum(w_non * np.exp(g)) / np.sum(w_non))
    mcv_pts = slope_columns(np.asarray(nc.MCV_KNOTS), nc.MCV_KNOTS, nc.MCV_REF) @ b[L.mcv] - c_mcv
    hb_pts, c_hb = {}, {}
    for sex, sl, fem in (("female", L.hb_f, 1.0), ("male", L.hb_m, 0.0)):
        m = dk["female"] == fem
        h = slope_columns(dk["hb_g_l"][m], nc.HB_KNOTS[sex], nc.HB_REF[sex]) @ b[sl]
        c_hb[sex] = math.log(np.sum(w_non[m] * np.exp(h)) / np.sum(w_non[m]))
        knots = np.asarray(nc.HB_KNOTS[sex])
        hb_pts[sex] = slope_columns(knots, nc.HB_KNOTS[sex], nc.HB_REF[sex]) @ b[sl] - c_hb[sex]
    base_f = b[L.age_f] + c_mcv + c_hb["female"]
    base_m = b[L.age_m] + c_mcv + c_hb["male"]
    se = np.sqrt(np.diag(fit.cov))
    factors = {}
    for i, name in enumerate(nc.FACTORS):
        j = L.factors.start + i
        factors[name] = {
            "odds_ratio": math.exp(b[j]),
            "ci95": [math.exp(b[j] - 1.96 * se[j]), math.exp(b[j] + 1.96 * se[j])],
        }
    return {
        "format": "follicle-kb/b12-population/1",
        "outcome": nc.OUTCOME_TEXT,
        "ref": "nhanes_1999_2006",
        "evidence": "derived",
        "n": int(len(y)),
        "cases": int(round(float(np.sum(y)))),
        "baseline": [
            {"age": a, "female": float(special.expit(bf)), "male": float(special.expit(bm))}
            for a, bf, bm in zip(nc.AGE_KNOTS, base_f, base_m, strict=True)
        ],
        "factors": factors,
        "labs": {
            "mcv": {"unit": "fL", "points": [
                {"value": v, "lr": float(math.exp(x))} for v, x in zip(nc.MCV_KNOTS, mcv_pts, strict=True)
            ]},
            "hemoglobin": {
                "unit": "g/L",
                **{sex: [{"value": v, "lr": float(math.exp(x))}
                         for v, x in zip(nc.HB_KNOTS[sex], hb_pts[sex], strict=True)]
                   for sex in ("female", "male")},
            },
        },
    }


def rounded(kb: dict) -> dict:
    """Same mapping with every number at 3 significant figures (what the file will hold)."""
    r = nc.round_sig
    out = json.loads(json.dumps(kb))
    for pt in out["baseline"]:
        pt["female"], pt["male"] = r(pt["female"]), r(pt["male"])
    for f in out["factors"].values():
        f["odds_ratio"] = r(f["odds_ratio"])
        f["ci95"] = [r(x) for x in f["ci95"]]
    for pt in out["labs"]["mcv"]["points"]:
        pt["lr"] = r(pt["lr"])
    for sex in ("female", "male"):
        for pt in out["labs"]["hemoglobin"][sex]:
            pt["lr"] = r(pt["lr"])
    return out


def num(x: float) -> str:
    if float(x).is_integer() and abs(x) >= 10:
        return str(int(x))
    return nc.fmt_sig(x)


def to_yaml(kb: dict) -> str:
    lines = [
        "# B12 population model: probability of biochemical vitamin B12 deficiency in adults.",
        "# Auto generated by benchmarks/nhanes/derive.py from NHANES 1999-2006 (do not edit by hand).",
        f"format: {kb['format']}",
        f'outcome: "{kb["outcome"]}"',
        f"ref: {kb['ref']}",
        f"evidence: {kb['evidence']}",
        f"n: {kb['n']}",
        f"cases: {kb['cases']}",
        "baseline:          # probability by age (years) and sex; interpolate on the logit scale, clamp outside",
    ]
    for pt in kb["baseline"]:
        lines.append(f"  - {{age: {int(pt['age'])}, female: {num(pt['female'])}, male: {num(pt['male'])}}}")
    lines.append("factors:           # adjusted odds ratios")
    for name in nc.FACTORS:
        f = kb["factors"][name]
        lines.append(f"  {name}: {{odds_ratio: {num(f['odds_ratio'])}, "
                     f"ci95: [{num(f['ci95'][0])}, {num(f['ci95'][1])}]}}")
    lines.append("labs:              # likelihood ratios; interpolate log(lr) linearly in value; clamp outside")
    pts = ", ".join(f"{{value: {int(p['value'])}, lr: {num(p['lr'])}}}" for p in kb["labs"]["mcv"]["points"])
    lines.append(f"  mcv: {{unit: fL, points: [{pts}]}}")
    lines.append("  hemoglobin:")
    lines.append("    unit: g/L")
    for sex in ("female", "male"):
        pts = ", ".join(f"{{value: {int(p['value'])}, lr: {num(p['lr'])}}}"
                        for p in kb["labs"]["hemoglobin"][sex])
        lines.append(f"    {sex}: [{pts}]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Plain main-effects logistic model (reference)
# --------------------------------------------------------------------------------------------

def plain_fill(d: dict[str, np.ndarray]) -> dict[str, float]:
    return {"hgb_g_dl": float(np.nanmean(d["hgb_g_dl"])), "mcv_fl": float(np.nanmean(d["mcv_fl"]))}


def fit_plain(d: dict[str, np.ndarray], y: np.ndarray) -> nc.LogitFit:
    keep = d["has_labs"] == 1
    X = nc.plain_design(nc.subset(d, keep))
    return nc.fit_logistic(X, y[keep])


def predict_plain(fit: nc.LogitFit, d: dict[str, np.ndarray], fill: dict[str, float]) -> np.ndarray:
    return special.expit(nc.plain_design(d, fill) @ fit.coef)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

def fold_models(train: dict[str, np.ndarray]) -> tuple[dict, nc.LogitFit, dict]:
    y = impute_outcome(train, train)
    fit = fit_structured(train, y)
    kb = rounded(express(fit, train, y))
    return kb, fit_plain(train, y), plain_fill(train)


def validate(d: dict[str, np.ndarray]) -> dict:
    res: dict = {"leave_one_cycle_out": {}, "temporal_2005_2006": {}}
    # (a) leave one MMA cycle out; the held-out cycle is scored on its determinable outcomes
    oof_y, oof_f, oof_p = [], [], []
    for c in nc.CYCLES_WITH_MMA:
        tr, te = nc.subset(d, d["cycle"] != c), nc.subset(d, d["cycle"] == c)
        kb, plain, fill = fold_models(tr)
        ok = ~np.isnan(te["y_obs"])
        te = nc.subset(te, ok)
        pf, pp = nc.kb_predict(kb, te), predict_plain(plain, te, fill)
        res["leave_one_cycle_out"][c] = {"follicle": nc.performance(te["y_obs"], pf),
                                         "plain_logistic": nc.performance(te["y_obs"], pp)}
        oof_y.append(te["y_obs"])
        oof_f.append(pf)
        oof_p.append(pp)
        log(f"  LOCO {c}: AUC follicle {res['leave_one_cycle_out'][c]['follicle']['auc']:.3f}, "
            f"plain {res['leave_one_cycle_out'][c]['plain_logistic']['auc']:.3f}")
    yy, ff, pp = np.concatenate(oof_y), np.concatenate(oof_f), np.concatenate(oof_p)
    res["leave_one_cycle_out"]["pooled"] = {"follicle": nc.performance(yy, ff),
                                            "plain_logistic": nc.performance(yy, pp)}
    # (b) temporal: fit 1999-2004, check on 2005-2006 (no MMA there: expected outcome for the
    #     B12 180-350 group from the 1999-2004 imputation model; and the B12 < 180 part alone)
    tr = nc.subset(d, d["cycle"] != "2005-2006")
    te = nc.subset(d, d["cycle"] == "2005-2006")
    kb, plain, fill = fold_models(tr)
    y_te = impute_outcome(tr, te)
    pf, pp = nc.kb_predict(kb, te), predict_plain(plain, te, fill)
    low = (te["b12_roche"] < nc.B12_DEFICIENT).astype(float)
    res["temporal_2005_2006"] = {
        "note": "outcome for B12 180-350 (Roche scale) is the expected value P(MMA > 0.45) from "
                "1999-2004; AUC with fractional outcomes. 'b12_below_180' scores the B12 < 180 "
                "component alone (AUC only meaningful there; O/E not comparable).",
        "follicle": nc.performance(y_te, pf),
        "plain_logistic": nc.performance(y_te, pp),
        "b12_below_180_auc": {"follicle": nc.auc_delong(low, pf)[0], "plain_logistic": nc.auc_delong(low, pp)[0]},
    }
    log(f"  temporal 2005-2006: AUC follicle {res['temporal_2005_2006']['follicle']['auc']:.3f}, "
        f"plain {res['temporal_2005_2006']['plain_logistic']['auc']:.3f}")
    return res


def main() -> int:
    t0 = time.time()
    log(f"reading {nc.data_csv()} (cycles {', '.join(nc.DERIVATION_CYCLES)} only)")
    d = derivation_data()
    n_und = int(np.isnan(d["y_obs"]).sum())
    log(f"derivation population: n={len(d['cycle'])}, undetermined outcome (imputed)={n_und}")
    y = impute_outcome(d, d)
    fit = fit_structured(d, y)
    if not fit.converged:
        log("warning: optimiser did not report convergence")
    kb_raw = express(fit, d, y)
    kb = rounded(kb_raw)
    text = to_yaml(kb)
    assert yaml.safe_load(text) == kb, "YAML round trip mismatch"
    nc.KB_PATH.parent.mkdir(parents=True, exist_ok=True)
    nc.KB_PATH.write_text(text, encoding="utf-8")
    log(f"wrote {nc.KB_PATH.relative_to(nc.REPO_ROOT)}")

    # apparent performance (whole derivation set, rounded file) and validation
    ok = ~np.isnan(d["y_obs"])
    dd = nc.subset(d, ok)
    plain = fit_plain(d, y)
    fill = plain_fill(d)
    no_labs = dict(dd)
    no_labs["mcv_fl"] = np.full(len(dd["mcv_fl"]), np.nan)
    no_labs["hb_g_l"] = np.full(len(dd["hb_g_l"]), np.nan)
    apparent = {
        "note": "whole derivation set, participants with a determinable outcome (MMA cycles + "
                "2005-2006 B12 < 180 or > 350); optimistic",
        "follicle": nc.performance(dd["y_obs"], nc.kb_predict(kb, dd)),
        "follicle_without_labs": nc.performance(dd["y_obs"], nc.kb_predict(kb, no_labs)),
        "plain_logistic": nc.performance(dd["y_obs"], predict_plain(plain, dd, fill)),
        "follicle_fractional_all": nc.performance(y, nc.kb_predict(kb, d)),
        "follicle_without_labs_fractional_all": nc.performance(
            y, nc.kb_predict(kb, {**d, "mcv_fl": np.full(len(y), np.nan), "hb_g_l": np.full(len(y), np.nan)})),
    }
    log("internal validation ...")
    val = validate(d)
    out = {
        "derivation": {
            "cycles": list(nc.DERIVATION_CYCLES),
            "n": int(len(y)),
            "cases_observed": int(np.nansum(d["y_obs"])),
            "cases_expected_incl_imputed": float(np.sum(y)),
            "undetermined_imputed": n_und,
            "by_cycle": {c: {"n": int(np.sum(d["cycle"] == c)),
                             "cases_observed": int(np.nansum(d["y_obs"][d["cycle"] == c])),
                             "expected_cases": float(np.sum(y[d["cycle"] == c]))}
                         for c in nc.DERIVATION_CYCLES},
            "penalty": {"lambda_age": LAMBDA_AGE, "lambda_lab": LAMBDA_LAB},
            "plain_logistic_coef": dict(zip(["intercept", *nc.PLAIN_FEATURES],
                                            [float(x) for x in plain.coef], strict=True)),
        },
        "apparent": apparent,
        "internal_validation": val,
    }
    nc.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (nc.RESULTS_DIR / "nhanes_b12_internal.json").write_text(json.dumps(out, indent=2) + "\n")
    pooled = val["leave_one_cycle_out"]["pooled"]
    for name in ("follicle", "plain_logistic"):
        m = pooled[name]
        log(f"LOCO pooled {name}: AUC {m['auc']:.3f} [{m['auc_ci95'][0]:.3f}-{m['auc_ci95'][1]:.3f}], "
            f"Brier {m['brier']:.4f}, O/E {m['oe']:.2f}, slope {m['calibration_slope']:.2f}, "
            f"CITL {m['calibration_in_the_large']:.2f}")
    log(f"done in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
