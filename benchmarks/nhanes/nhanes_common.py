"""Shared helpers for the NHANES vitamin B12 derivation (derive.py) and benchmark (evaluate.py).

Only numpy, scipy and PyYAML are needed. Nothing here reads a cycle that the caller did not ask
for: `load_participants(cycles)` drops every other row while the CSV is being read, so the
derivation script never holds the held-out cycles in memory.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import optimize, special, stats

REPO_ROOT = Path(__file__).resolve().parents[2]
KB_PATH = REPO_ROOT / "src" / "follicle" / "knowledge" / "2026.1" / "b12_population.yaml"
RESULTS_DIR = REPO_ROOT / "benchmarks" / "results"

DERIVATION_CYCLES = ("1999-2000", "2001-2002", "2003-2004", "2005-2006")
HELDOUT_CYCLES = ("2011-2012", "2013-2014")
CYCLES_WITH_MMA = ("1999-2000", "2001-2002", "2003-2004")

# Outcome thresholds (Roche Elecsys scale, pg/mL and umol/L)
B12_DEFICIENT = 180.0
B12_INDETERMINATE_MAX = 350.0
MMA_HIGH = 0.45
OUTCOME_TEXT = "serum B12 < 180 pg/mL, or B12 <= 350 pg/mL with MMA > 0.45 umol/L"

# Points written to the knowledge file (the fitted terms are piecewise linear with knots that
# are a subset of these points, so log-linear interpolation between the points is exact).
AGE_POINTS = (20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)
MCV_POINTS = (85.0, 90.0, 95.0, 100.0, 105.0, 110.0, 115.0, 120.0)
HB_POINTS = {  # g/L
    "female": (90.0, 100.0, 110.0, 120.0, 130.0, 140.0, 150.0, 160.0),
    "male": (100.0, 110.0, 120.0, 130.0, 140.0, 150.0, 160.0, 170.0),
}
FACTORS = ("metformin", "ppi", "h2ra", "b12_supplement")
FACTOR_COLUMNS = {
    "metformin": "rx_metformin",
    "ppi": "rx_ppi",
    "h2ra": "rx_h2ra",
    "b12_supplement": "supp_b12",
}


def data_csv() -> Path:
    """The participant CSV: $FOLLICLE_NHANES_CSV, else ../shared/data/nhanes_b12/ by the repo."""
    env = os.environ.get("FOLLICLE_NHANES_CSV")
    if env:
        return Path(env).expanduser().resolve()
    return (
        REPO_ROOT / ".." / "shared" / "data" / "nhanes_b12" / "nhanes_b12_participants.csv"
    ).resolve()


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

NUMERIC = (
    "age_years",
    "pregnant",
    "b12_pg_ml",
    "mma_umol_l",
    "mcv_fl",
    "hgb_g_dl",
    "rx_metformin",
    "rx_ppi",
    "rx_h2ra",
    "rx_b12",
    "supp_b12",
)


def _num(x: str) -> float:
    return float(x) if x != "" else math.nan


def load_participants(cycles: Sequence[str], path: Path | None = None) -> dict[str, np.ndarray]:
    """Rows of the requested cycles only, as column arrays (numbers as float, NaN = empty)."""
    wanted = set(cycles)
    cols: dict[str, list] = {c: [] for c in ("cycle", "SEQN", "sex", *NUMERIC)}
    with open(path or data_csv(), newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["cycle"] not in wanted:
                continue
            cols["cycle"].append(row["cycle"])
            cols["SEQN"].append(int(row["SEQN"]))
            cols["sex"].append(row["sex"])
            for c in NUMERIC:
                cols[c].append(_num(row[c]))
    out = {k: np.asarray(v) for k, v in cols.items()}
    out["female"] = (out["sex"] == "F").astype(float)
    out["hb_g_l"] = out["hgb_g_dl"] * 10.0
    for name, col in FACTOR_COLUMNS.items():
        out[name] = np.nan_to_num(out[col], nan=0.0)  # not reported -> not taking it
    return out


def subset(d: dict[str, np.ndarray], mask: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[mask] for k, v in d.items()}


def population_mask(
    d: dict[str, np.ndarray], *, exclude_unknown_pregnancy_1999: bool
) -> np.ndarray:
    """Adults (age >= 20), not pregnant.

    In 1999-2000 pregnancy status is not available (see the data README); women aged 20-44 of that
    cycle are then excluded from derivation, because NHANES 1999-2006 oversampled pregnant women
    (about a quarter of women aged 20-44 in 2001-2006 were pregnant).
    """
    m = (d["age_years"] >= 20) & (d["pregnant"] != 1)
    if exclude_unknown_pregnancy_1999:
        unknown = (d["cycle"] == "1999-2000") & (d["female"] == 1) & (d["age_years"] < 45)
        m &= ~unknown
    return m


def biorad_to_roche(b12_biorad: np.ndarray) -> np.ndarray:
    """CDC/NCHS crosswalk (VITB12_G documentation, crossover study of 284 sera, Deming regression):

    Roche vitamin B12 = 10 ** (0.97 * log10(Bio-Rad vitamin B12) + 0.14)   [pg/mL]
    """
    return 10.0 ** (0.97 * np.log10(b12_biorad) + 0.14)


def b12_on_roche_scale(d: dict[str, np.ndarray]) -> np.ndarray:
    """Serum B12 in Roche Elecsys pg/mL (1999-2006 Bio-Rad values forward-regressed)."""
    early = np.isin(d["cycle"], DERIVATION_CYCLES)
    return np.where(early, biorad_to_roche(d["b12_pg_ml"]), d["b12_pg_ml"])


def outcome(b12: np.ndarray, mma: np.ndarray) -> np.ndarray:
    """1 deficient, 0 not, NaN when B12 is 180-350 and MMA is missing (undetermined)."""
    y = np.full(b12.shape, np.nan)
    y[b12 < B12_DEFICIENT] = 1.0
    y[b12 > B12_INDETERMINATE_MAX] = 0.0
    mid = (b12 >= B12_DEFICIENT) & (b12 <= B12_INDETERMINATE_MAX)
    known = mid & ~np.isnan(mma)
    y[known] = (mma[known] > MMA_HIGH).astype(float)
    return y


# --------------------------------------------------------------------------------------------
# Logistic regression (penalised, optional bounds), numpy/scipy only
# --------------------------------------------------------------------------------------------


@dataclass
class LogitFit:
    coef: np.ndarray
    cov: np.ndarray
    loglik: float
    converged: bool

    def linpred(self, X: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        eta = X @ self.coef
        return eta if offset is None else eta + offset


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    *,
    penalty: np.ndarray | None = None,
    bounds: Sequence[tuple[float | None, float | None]] | None = None,
    offset: np.ndarray | None = None,
    x0: np.ndarray | None = None,
) -> LogitFit:
    """Maximise sum[y*eta - log(1+e^eta)] - 0.5 * b' P b. y may be fractional (expected outcome)."""
    n, p = X.shape
    P = np.zeros((p, p)) if penalty is None else penalty
    off = np.zeros(n) if offset is None else offset

    def nll(b: np.ndarray) -> tuple[float, np.ndarray]:
        eta = X @ b + off
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        mu = special.expit(eta)
        grad = X.T @ (y - mu) - P @ b
        return -(ll - 0.5 * float(b @ P @ b)), -grad

    start = np.zeros(p) if x0 is None else x0
    if bounds is None:
        # Newton-Raphson (fast and exact for unconstrained problems)
        b = start.copy()
        converged = False
        for _ in range(100):
            eta = X @ b + off
            mu = special.expit(eta)
            W = mu * (1 - mu)
            H = (X * W[:, None]).T @ X + P
            g = X.T @ (y - mu) - P @ b
            step = np.linalg.solve(H, g)
            # step halving for safety
            f0 = nll(b)[0]
            t = 1.0
            while t > 1e-6 and nll(b + t * step)[0] > f0 + 1e-12:
                t /= 2
            b = b + t * step
            if np.max(np.abs(t * step)) < 1e-9:
                converged = True
                break
    else:
        res = optimize.minimize(
            nll,
            start,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-14, "gtol": 1e-9},
        )
        b = res.x
        converged = bool(res.success)
    eta = X @ b + off
    mu = special.expit(eta)
    H = (X * (mu * (1 - mu))[:, None]).T @ X + P
    cov = np.linalg.pinv(H)
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    return LogitFit(coef=b, cov=cov, loglik=ll, converged=converged)


def second_difference_penalty(k: int) -> np.ndarray:
    if k < 3:
        return np.zeros((k, k))
    D = np.diff(np.eye(k), n=2, axis=0)
    return D.T @ D


# --------------------------------------------------------------------------------------------
# Piecewise-linear bases (values at knots; constant beyond the outer knots = clamping)
# --------------------------------------------------------------------------------------------


def hat_basis(x: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """B[i, k] such that B @ v linearly interpolates values v at knots, clamped outside."""
    t = np.asarray(knots, float)
    xc = np.clip(x, t[0], t[-1])
    B = np.zeros((len(x), len(t)))
    idx = np.clip(np.searchsorted(t, xc, side="right") - 1, 0, len(t) - 2)
    w = (xc - t[idx]) / (t[idx + 1] - t[idx])
    rows = np.arange(len(x))
    B[rows, idx] = 1 - w
    B[rows, idx + 1] += w
    return B


def interp_clamped(x: np.ndarray, xs: Sequence[float], ys: Sequence[float]) -> np.ndarray:
    return np.interp(np.asarray(x, float), np.asarray(xs, float), np.asarray(ys, float))


# --------------------------------------------------------------------------------------------
# The knowledge-file formula
# --------------------------------------------------------------------------------------------


def kb_predict(kb: dict, d: dict[str, np.ndarray]) -> np.ndarray:
    """Probability from a follicle-kb/b12-population/1 mapping, exactly as the file describes it.

    logit(p) = logit(baseline(age, sex)) + sum log(OR) + log LR(MCV) + log LR(Hb, sex).
    Baseline interpolated on the logit scale; log(LR) interpolated linearly in value; clamped
    outside the points. A missing laboratory value contributes nothing (LR = 1).
    """
    ages = [pt["age"] for pt in kb["baseline"]]
    logit_f = [special.logit(pt["female"]) for pt in kb["baseline"]]
    logit_m = [special.logit(pt["male"]) for pt in kb["baseline"]]
    female = d["female"] == 1
    eta = np.where(
        female,
        interp_clamped(d["age_years"], ages, logit_f),
        interp_clamped(d["age_years"], ages, logit_m),
    )
    for name in FACTORS:
        eta = eta + d[name] * math.log(kb["factors"][name]["odds_ratio"])
    mcv_pts = kb["labs"]["mcv"]["points"]
    mcv = d["mcv_fl"]
    lr = interp_clamped(
        np.nan_to_num(mcv, nan=90.0),
        [p["value"] for p in mcv_pts],
        [math.log(p["lr"]) for p in mcv_pts],
    )
    eta = eta + np.where(np.isnan(mcv), 0.0, lr)
    hb = d["hb_g_l"]
    hb_term = np.zeros(len(hb))
    for sex_key, mask in (("female", female), ("male", ~female)):
        pts = kb["labs"]["hemoglobin"][sex_key]
        v = interp_clamped(
            np.nan_to_num(hb, nan=140.0),
            [p["value"] for p in pts],
            [math.log(p["lr"]) for p in pts],
        )
        hb_term = np.where(mask & ~np.isnan(hb), v, hb_term)
    eta = eta + hb_term
    return special.expit(eta)


# --------------------------------------------------------------------------------------------
# Plain main-effects logistic model (the reference baseline)
# --------------------------------------------------------------------------------------------

PLAIN_FEATURES = (
    "age_years",
    "male",
    "metformin",
    "ppi",
    "h2ra",
    "b12_supplement",
    "hgb_g_dl",
    "mcv_fl",
)


def plain_design(d: dict[str, np.ndarray], fill: dict[str, float] | None = None) -> np.ndarray:
    cols = [np.ones(len(d["age_years"]))]
    for f in PLAIN_FEATURES:
        v = (1.0 - d["female"]) if f == "male" else d[f].astype(float)
        if fill is not None and f in fill:
            v = np.where(np.isnan(v), fill[f], v)
        cols.append(v)
    return np.column_stack(cols)


# --------------------------------------------------------------------------------------------
# Performance metrics
# --------------------------------------------------------------------------------------------


def _midrank(x: np.ndarray) -> np.ndarray:
    return stats.rankdata(x, method="average")


def auc_delong(y: np.ndarray, p: np.ndarray) -> tuple[float, float, float, float]:
    """AUC with DeLong standard error and 95% CI (logit-transformed, stays within 0-1)."""
    y = np.asarray(y).astype(bool)
    pos, neg = p[y], p[~y]
    m, n = len(pos), len(neg)
    if m == 0 or n == 0:
        return (math.nan,) * 4
    r_all = _midrank(np.concatenate([pos, neg]))
    r_pos = _midrank(pos)
    r_neg = _midrank(neg)
    auc = (r_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_all[:m] - r_pos) / n
    v01 = 1.0 - (r_all[m:] - r_neg) / m
    var = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n
    se = math.sqrt(var)
    lg = math.log(auc / (1 - auc))
    se_lg = se / (auc * (1 - auc))
    lo, hi = special.expit(lg - 1.96 * se_lg), special.expit(lg + 1.96 * se_lg)
    return float(auc), float(se), float(lo), float(hi)


def auc_fractional(y: np.ndarray, p: np.ndarray) -> float:
    """AUC with probabilistic outcomes: a row counts y as a case and 1-y as a non-case."""
    order = np.argsort(p, kind="mergesort")
    ps, ys = p[order], y[order]
    # handle ties via grouping
    _uniq, start = np.unique(ps, return_index=True)
    wpos = np.add.reduceat(ys, start)
    wneg = np.add.reduceat(1 - ys, start)
    cum_neg_below = np.concatenate([[0.0], np.cumsum(wneg)[:-1]])
    num = float(np.sum(wpos * (cum_neg_below + 0.5 * wneg)))
    return num / (ys.sum() * (1 - ys).sum())


def calibration(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    p = np.clip(p, 1e-9, 1 - 1e-9)
    lp = special.logit(p)
    X = np.column_stack([np.ones_like(lp), lp])
    slope_fit = fit_logistic(X, y)
    citl_fit = fit_logistic(np.ones((len(lp), 1)), y, offset=lp)
    slope, slope_se = slope_fit.coef[1], math.sqrt(slope_fit.cov[1, 1])
    citl, citl_se = citl_fit.coef[0], math.sqrt(citl_fit.cov[0, 0])
    return {
        "calibration_slope": float(slope),
        "calibration_slope_ci95": [float(slope - 1.96 * slope_se), float(slope + 1.96 * slope_se)],
        "calibration_in_the_large": float(citl),
        "calibration_in_the_large_ci95": [
            float(citl - 1.96 * citl_se),
            float(citl + 1.96 * citl_se),
        ],
    }


def performance(y: np.ndarray, p: np.ndarray) -> dict[str, object]:
    """AUC (DeLong CI), Brier, O/E (with Poisson-approximate CI), calibration slope and CITL."""
    y = np.asarray(y, float)
    fractional = bool(np.any((y > 0) & (y < 1)))
    out: dict[str, object] = {"n": len(y), "observed": float(y.sum()), "expected": float(p.sum())}
    if fractional:
        out["auc"] = auc_fractional(y, p)
    else:
        auc, se, lo, hi = auc_delong(y, p)
        out.update({"auc": auc, "auc_se": se, "auc_ci95": [lo, hi]})
    out["brier"] = float(np.mean((y - p) ** 2))
    oe = y.sum() / p.sum()
    se_log = 1 / math.sqrt(max(y.sum(), 1e-9))
    out["oe"] = float(oe)
    out["oe_ci95"] = [float(oe * math.exp(-1.96 * se_log)), float(oe * math.exp(1.96 * se_log))]
    out.update(calibration(y, p))
    return out


def round_sig(x: float, sig: int = 3) -> float:
    if x == 0 or not math.isfinite(x):
        return float(x)
    return float(f"{x:.{sig}g}")


def fmt_sig(x: float, sig: int = 3) -> str:
    """Plain decimal with `sig` significant figures (no exponent), for YAML output."""
    r = round_sig(x, sig)
    if r == 0:
        return "0"
    digits = sig - math.floor(math.log10(abs(r))) - 1
    s = f"{r:.{max(digits, 0)}f}"
    return s


def iter_cycles(d: dict[str, np.ndarray]) -> Iterable[str]:
    return sorted(set(d["cycle"].tolist()))
