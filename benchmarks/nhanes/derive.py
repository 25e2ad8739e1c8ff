"""Derive follicle's B12 population model from NHANES 1999-2006 and write the knowledge file.

Run from the repository root:

    .venv/bin/python benchmarks/nhanes/derive.py                 # fit, write, validate (~10 s)
    .venv/bin/python benchmarks/nhanes/derive.py --skip-select   # without the model selection

Reads ONLY the cycles 1999-2000, 2001-2002, 2003-2004 and 2005-2006 (other rows are dropped while
the CSV is read). Writes src/follicle/knowledge/2026.1/b12_population.yaml and
benchmarks/results/nhanes_b12_internal.json (+ .md). Deterministic (no random numbers).

Outline (README.md in this folder gives the reasoning):
1. Adults (>= 20 y), not pregnant; 1999-2000 women aged 20-44 excluded (pregnancy status unknown).
2. Bio-Rad B12 values forward-regressed to the Roche Elecsys scale with the CDC/NCHS crosswalk,
   then outcome = B12 < 180 pg/mL, or B12 <= 350 pg/mL and MMA > 0.45 umol/L.
3. Undetermined outcomes (B12 180-350 without MMA: all of 2005-2006 and a few others) enter as
   fractional outcomes: P(MMA > 0.45 | B12, predictors) from a logistic model fitted on the
   participants with MMA.
4. One logistic model, every continuous term piecewise linear and clamped (so it maps exactly onto
   the file's points): sex-specific age, the four factors, MCV (LR non-decreasing), sex-specific
   Hb (LR non-increasing). The structure was chosen by leave-one-cycle-out cross-validated
   deviance among the candidates in CANDIDATES (rerun on every run unless --skip-select).
5. Internal validation: leave-one-cycle-out over the three MMA cycles, and a temporal split
   (fit 1999-2004, check 2005-2006); the same for a plain main-effects logistic model.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from scipy import special

sys.path.insert(0, str(Path(__file__).resolve().parent))
import itertools

import nhanes_common as nc


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
    return np.column_stack(
        [
            np.ones(len(age)),
            np.log(d["b12_roche"] / 265.0),
            (age - 50) / 10,
            np.maximum(age - 60, 0) / 10,
            d["female"],
            d["metformin"],
            d["ppi"],
            d["h2ra"],
            d["b12_supplement"],
            (hb - 140) / 10,
            (mcv - 90) / 5,
        ]
    )


def impute_outcome(train: dict[str, np.ndarray], target: dict[str, np.ndarray]) -> np.ndarray:
    """Observed outcome; undetermined rows replaced by P(MMA > 0.45 | ...) fitted on `train`."""
    mid = (train["b12_roche"] >= nc.B12_DEFICIENT) & (
        train["b12_roche"] <= nc.B12_INDETERMINATE_MAX
    )
    rows = mid & ~np.isnan(train["y_obs"])
    X = imputation_design(nc.subset(train, rows))
    ridge = np.diag([0.0] + [1.0] * (X.shape[1] - 1))  # light ridge for stability
    fit = nc.fit_logistic(X, train["y_obs"][rows], penalty=ridge)
    y = target["y_obs"].copy()
    und = np.isnan(y)
    if und.any():
        y[und] = special.expit(imputation_design(nc.subset(target, und)) @ fit.coef)
    return y


# --------------------------------------------------------------------------------------------
# Model structures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A model structure. Every continuous term is piecewise linear between `knots` (clamped
    outside), parametrised by its segment slopes and equal to 0 at `ref`."""

    name: str
    age_knots: tuple[float, ...] = (20.0, 90.0)
    age_by_sex: bool = True
    mcv_knots: tuple[float, ...] = (85.0, 120.0)
    hb_knots: dict[str, tuple[float, ...]] = field(
        default_factory=lambda: {"female": (90.0, 160.0), "male": (100.0, 170.0)}
    )
    hb_by_sex: bool = True
    lam_age: float = 0.0  # penalty on differences of adjacent slopes
    lam_lab: float = 0.0
    # Metformin, PPI and H2RA are risk factors: odds ratio constrained to >= 1 (the knowledge
    # base rejects a protective estimate for them as confounding; see README).
    risk_factors_at_least_1: bool = True


AGE_REF, MCV_REF = 50.0, 90.0
HB_REF = {"female": 135.0, "male": 150.0}
MCV_MONOTONE_FROM = 85.0  # MCV segments starting here or above: slope >= 0
RISK_FACTORS = ("metformin", "ppi", "h2ra")

FINAL = Spec("final: linear age by sex, MCV hinge at 85 fL, linear Hb by sex")
CANDIDATES = (
    FINAL,
    Spec("MCV linear 70-120 fL (no hinge)", mcv_knots=(70.0, 120.0)),
    Spec("age slope shared by sex", age_by_sex=False),
    Spec("Hb slope shared by sex (Hb relative to 135/150 g/L)", hb_by_sex=False),
    Spec("unconstrained drug odds ratios (may fall below 1)", risk_factors_at_least_1=False),
    Spec(
        "flexible: age knots every 10 y, MCV and Hb knots every 5-10 units (penalised)",
        age_knots=nc.AGE_POINTS,
        mcv_knots=(70.0, 80.0, 85.0, 90.0, 95.0, 100.0, 105.0, 110.0, 120.0),
        hb_knots=dict(nc.HB_POINTS),
        lam_age=400.0,
        lam_lab=2000.0,
    ),
)


def slope_columns(x: np.ndarray, knots: tuple[float, ...], ref: float) -> np.ndarray:
    t = np.asarray(knots)
    xc = np.where(np.isnan(x), ref, x)
    return np.column_stack(
        [np.clip(xc, a, b) - np.clip(ref, a, b) for a, b in itertools.pairwise(t)]
    )


class Model:
    """Design matrix, penalty, bounds and expression of one Spec."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.blocks: dict[str, slice] = {}
        i = 0

        def add(name: str, width: int) -> None:
            nonlocal i
            self.blocks[name] = slice(i, i + width)
            i += width

        add("intercept", 2)  # female, male
        na = len(spec.age_knots) - 1
        if spec.age_by_sex:
            add("age_female", na)
            add("age_male", na)
        else:
            add("age", na)
        add("factors", len(nc.FACTORS))
        add("mcv", len(spec.mcv_knots) - 1)
        if spec.hb_by_sex:
            add("hb_female", len(spec.hb_knots["female"]) - 1)
            add("hb_male", len(spec.hb_knots["male"]) - 1)
        else:
            add("hb", len(spec.hb_knots["female"]) - 1)
        self.p = i

    # -- terms --------------------------------------------------------------------------------
    def hb_rel(self, hb: np.ndarray, female: np.ndarray) -> np.ndarray:
        return hb - np.where(female == 1, HB_REF["female"], HB_REF["male"])

    def design(self, d: dict[str, np.ndarray]) -> np.ndarray:
        s = self.spec
        f = d["female"][:, None]
        cols = [d["female"][:, None], 1 - f]
        age = slope_columns(d["age_years"], s.age_knots, AGE_REF)
        cols += [age * f, age * (1 - f)] if s.age_by_sex else [age]
        cols.append(np.column_stack([d[k] for k in nc.FACTORS]))
        cols.append(slope_columns(d["mcv_fl"], s.mcv_knots, MCV_REF))
        if s.hb_by_sex:
            cols.append(slope_columns(d["hb_g_l"], s.hb_knots["female"], HB_REF["female"]) * f)
            cols.append(slope_columns(d["hb_g_l"], s.hb_knots["male"], HB_REF["male"]) * (1 - f))
        else:
            rel_knots = tuple(k - HB_REF["female"] for k in s.hb_knots["female"])
            cols.append(slope_columns(self.hb_rel(d["hb_g_l"], d["female"]), rel_knots, 0.0))
        return np.column_stack(cols)

    def penalty(self) -> np.ndarray:
        P = np.zeros((self.p, self.p))
        for name, sl in self.blocks.items():
            n = sl.stop - sl.start
            lam = self.spec.lam_age if name.startswith("age") else self.spec.lam_lab
            if n > 1 and lam > 0 and name not in ("intercept", "factors"):
                D = np.diff(np.eye(n), axis=0)
                P[sl, sl] += lam * (D.T @ D)
        return P

    def bounds(self) -> list[tuple[float | None, float | None]]:
        b: list[tuple[float | None, float | None]] = [(None, None)] * self.p
        if self.spec.risk_factors_at_least_1:
            for i, name in enumerate(nc.FACTORS):
                if name in RISK_FACTORS:
                    b[self.blocks["factors"].start + i] = (0.0, None)
        for j, start in enumerate(self.spec.mcv_knots[:-1]):
            if start >= MCV_MONOTONE_FROM:
                b[self.blocks["mcv"].start + j] = (0.0, None)
        for name in ("hb_female", "hb_male", "hb"):
            if name in self.blocks:
                for j in range(self.blocks[name].start, self.blocks[name].stop):
                    b[j] = (None, 0.0)
        return b

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, d: dict[str, np.ndarray], y: np.ndarray) -> nc.LogitFit:
        keep = d["has_labs"] == 1
        X = self.design(nc.subset(d, keep))
        yk = y[keep]
        P = self.penalty()
        fit = nc.fit_logistic(X, yk, penalty=P)  # Newton; refit with bounds only if needed
        bnds = self.bounds()
        violated = any(
            (lo is not None and c < lo - 1e-12) or (hi is not None and c > hi + 1e-12)
            for c, (lo, hi) in zip(fit.coef, bnds, strict=True)
        )
        if violated:
            x0 = np.array(
                [
                    min(max(c, lo if lo is not None else -np.inf), hi if hi is not None else np.inf)
                    for c, (lo, hi) in zip(fit.coef, bnds, strict=True)
                ]
            )
            fit = nc.fit_logistic(X, yk, penalty=P, bounds=bnds, x0=x0)
        return fit

    # -- expression as knowledge-file points ---------------------------------------------------
    def express(self, fit: nc.LogitFit, d: dict[str, np.ndarray], y: np.ndarray) -> dict:
        s, b = self.spec, fit.coef
        keep = d["has_labs"] == 1
        dk = nc.subset(d, keep)
        w_non = (1.0 - y)[keep]  # non-cases (fractional where the outcome was imputed)

        def mcv_term(x: np.ndarray) -> np.ndarray:
            return slope_columns(x, s.mcv_knots, MCV_REF) @ b[self.blocks["mcv"]]

        def hb_term(x: np.ndarray, sex: str) -> np.ndarray:
            if s.hb_by_sex:
                return slope_columns(x, s.hb_knots[sex], HB_REF[sex]) @ b[self.blocks[f"hb_{sex}"]]
            rel_knots = tuple(k - HB_REF["female"] for k in s.hb_knots["female"])
            return slope_columns(x - HB_REF[sex], rel_knots, 0.0) @ b[self.blocks["hb"]]

        def age_term(x: np.ndarray, sex: str) -> np.ndarray:
            blk = self.blocks[f"age_{sex}"] if s.age_by_sex else self.blocks["age"]
            return slope_columns(x, s.age_knots, AGE_REF) @ b[blk]

        # Likelihood ratios are normalised so that their mean among non-cases is 1 (the defining
        # property of a likelihood ratio); the constants move into the baseline, so the combined
        # model is unchanged and the baseline alone stays calibrated when no lab is given.
        c_mcv = math.log(np.sum(w_non * np.exp(mcv_term(dk["mcv_fl"]))) / np.sum(w_non))
        c_hb = {}
        for sex, fem in (("female", 1.0), ("male", 0.0)):
            m = dk["female"] == fem
            c_hb[sex] = math.log(
                np.sum(w_non[m] * np.exp(hb_term(dk["hb_g_l"][m], sex))) / np.sum(w_non[m])
            )
        ages = np.asarray(nc.AGE_POINTS)
        base = {
            sex: b[self.blocks["intercept"].start + i] + age_term(ages, sex) + c_mcv + c_hb[sex]
            for i, sex in enumerate(("female", "male"))
        }
        se = np.sqrt(np.diag(fit.cov))
        factors = {}
        for i, name in enumerate(nc.FACTORS):
            j = self.blocks["factors"].start + i
            lo, hi = math.exp(b[j] - 1.96 * se[j]), math.exp(b[j] + 1.96 * se[j])
            if s.risk_factors_at_least_1 and name in RISK_FACTORS:
                lo = max(lo, 1.0)  # Wald interval truncated to the allowed range (OR >= 1)
            factors[name] = {"odds_ratio": math.exp(b[j]), "ci95": [lo, hi]}
        mcv_pts = np.asarray(nc.MCV_POINTS)
        return {
            "format": "follicle-kb/b12-population/1",
            "outcome": nc.OUTCOME_TEXT,
            "ref": "nhanes_1999_2006",
            "evidence": "derived",
            "n": len(y),
            "cases": round(float(np.sum(y))),
            "baseline": [
                {
                    "age": float(a),
                    "female": float(special.expit(bf)),
                    "male": float(special.expit(bm)),
                }
                for a, bf, bm in zip(ages, base["female"], base["male"], strict=True)
            ],
            "factors": factors,
            "labs": {
                "mcv": {
                    "unit": "fL",
                    "points": [
                        {"value": float(v), "lr": float(math.exp(t))}
                        for v, t in zip(mcv_pts, mcv_term(mcv_pts) - c_mcv, strict=True)
                    ],
                },
                "hemoglobin": {
                    "unit": "g/L",
                    **{
                        sex: [
                            {"value": float(v), "lr": float(math.exp(t))}
                            for v, t in zip(
                                nc.HB_POINTS[sex],
                                hb_term(np.asarray(nc.HB_POINTS[sex]), sex) - c_hb[sex],
                                strict=True,
                            )
                        ]
                        for sex in ("female", "male")
                    },
                },
            },
        }


def unconstrained_factors(d: dict[str, np.ndarray], y: np.ndarray) -> dict:
    """Factor odds ratios without the OR >= 1 constraint (reported, not used)."""
    m = Model(Spec("unconstrained", risk_factors_at_least_1=False))
    return rounded(m.express(m.fit(d, y), d, y))["factors"]


def rounded(kb: dict) -> dict:
    """Same mapping with every number at 3 significant figures (what the file holds)."""
    r = nc.round_sig
    out = json.loads(json.dumps(kb))
    for pt in out["baseline"]:
        pt["age"] = int(pt["age"])
        pt["female"], pt["male"] = r(pt["female"]), r(pt["male"])
    for f in out["factors"].values():
        f["odds_ratio"] = r(f["odds_ratio"])
        f["ci95"] = [r(x) for x in f["ci95"]]
    for pts in (
        out["labs"]["mcv"]["points"],
        out["labs"]["hemoglobin"]["female"],
        out["labs"]["hemoglobin"]["male"],
    ):
        for pt in pts:
            pt["value"] = int(pt["value"]) if float(pt["value"]).is_integer() else pt["value"]
            pt["lr"] = r(pt["lr"])
    return out


def num(x: float) -> str:
    if isinstance(x, int):
        return str(x)
    return nc.fmt_sig(x)


def to_yaml(kb: dict) -> str:
    lines = [
        "# B12 population model: probability of biochemical vitamin B12 deficiency in adults.",
        "# Auto generated by benchmarks/nhanes/derive.py from NHANES 1999-2006"
        " (do not edit by hand).",
        f"format: {kb['format']}",
        f'outcome: "{kb["outcome"]}"',
        f"ref: {kb['ref']}",
        f"evidence: {kb['evidence']}",
        f"n: {kb['n']}",
        f"cases: {kb['cases']}",
        "baseline:          # probability by age (years) and sex;"
        " interpolate on the logit scale, clamp outside",
    ]
    for pt in kb["baseline"]:
        lines.append(
            f"  - {{age: {pt['age']}, female: {num(pt['female'])}, male: {num(pt['male'])}}}"
        )
    lines.append("factors:           # adjusted odds ratios")
    for name in nc.FACTORS:
        f = kb["factors"][name]
        lines.append(
            f"  {name}: {{odds_ratio: {num(f['odds_ratio'])}, "
            f"ci95: [{num(f['ci95'][0])}, {num(f['ci95'][1])}]}}"
        )
    lines.append(
        "labs:              # likelihood ratios;"
        " interpolate log(lr) linearly in value; clamp outside"
    )

    def pts(points: list[dict]) -> str:
        return ", ".join(f"{{value: {num(p['value'])}, lr: {num(p['lr'])}}}" for p in points)

    lines.append(f"  mcv: {{unit: fL, points: [{pts(kb['labs']['mcv']['points'])}]}}")
    lines.append("  hemoglobin:")
    lines.append("    unit: g/L")
    for sex in ("female", "male"):
        lines.append(f"    {sex}: [{pts(kb['labs']['hemoglobin'][sex])}]")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Plain main-effects logistic model (reference)
# --------------------------------------------------------------------------------------------


def plain_fill(d: dict[str, np.ndarray]) -> dict[str, float]:
    return {"hgb_g_dl": float(np.nanmean(d["hgb_g_dl"])), "mcv_fl": float(np.nanmean(d["mcv_fl"]))}


def fit_plain(d: dict[str, np.ndarray], y: np.ndarray) -> nc.LogitFit:
    keep = d["has_labs"] == 1
    return nc.fit_logistic(nc.plain_design(nc.subset(d, keep)), y[keep])


def predict_plain(fit: nc.LogitFit, d: dict[str, np.ndarray], fill: dict[str, float]) -> np.ndarray:
    return special.expit(nc.plain_design(d, fill) @ fit.coef)


# --------------------------------------------------------------------------------------------
# Validation and model selection
# --------------------------------------------------------------------------------------------


def fold_models(train: dict[str, np.ndarray], spec: Spec = FINAL) -> tuple[dict, nc.LogitFit, dict]:
    y = impute_outcome(train, train)
    model = Model(spec)
    kb = rounded(model.express(model.fit(train, y), train, y))
    return kb, fit_plain(train, y), plain_fill(train)


def deviance(y: np.ndarray, p: np.ndarray) -> float:
    return float(-2 * np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))


def loco_predictions(
    d: dict[str, np.ndarray], spec: Spec = FINAL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Leave-one-MMA-cycle-out predictions (file formula, plain model); determined outcomes."""
    ys, fs, ps, cs = [], [], [], []
    for c in nc.CYCLES_WITH_MMA:
        tr, te = nc.subset(d, d["cycle"] != c), nc.subset(d, d["cycle"] == c)
        kb, plain, fill = fold_models(tr, spec)
        te = nc.subset(te, ~np.isnan(te["y_obs"]))
        ys.append(te["y_obs"])
        fs.append(nc.kb_predict(kb, te))
        ps.append(predict_plain(plain, te, fill))
        cs.append(te["cycle"])
    return np.concatenate(ys), np.concatenate(fs), np.concatenate(ps), np.concatenate(cs)


def select(d: dict[str, np.ndarray]) -> list[dict]:
    rows = []
    for spec in CANDIDATES:
        y, f, p, _ = loco_predictions(d, spec)
        perf = nc.performance(y, f)
        rows.append(
            {
                "model": spec.name,
                "cv_deviance": deviance(y, f),
                "auc": perf["auc"],
                "calibration_slope": perf["calibration_slope"],
                "oe": perf["oe"],
            }
        )
        log(
            f"  {spec.name}: deviance {rows[-1]['cv_deviance']:.1f}, AUC {perf['auc']:.3f}, "
            f"slope {perf['calibration_slope']:.2f}"
        )
    perf = nc.performance(y, p)
    rows.append(
        {
            "model": "plain main-effects logistic (reference)",
            "cv_deviance": deviance(y, p),
            "auc": perf["auc"],
            "calibration_slope": perf["calibration_slope"],
            "oe": perf["oe"],
        }
    )
    log(f"  plain: deviance {rows[-1]['cv_deviance']:.1f}, AUC {perf['auc']:.3f}")
    return rows


def validate(d: dict[str, np.ndarray]) -> dict:
    res: dict = {"leave_one_cycle_out": {}, "temporal_2005_2006": {}}
    y, f, p, cyc = loco_predictions(d)
    for c in nc.CYCLES_WITH_MMA:
        m = cyc == c
        res["leave_one_cycle_out"][c] = {
            "follicle": nc.performance(y[m], f[m]),
            "plain_logistic": nc.performance(y[m], p[m]),
        }
    res["leave_one_cycle_out"]["pooled"] = {
        "follicle": nc.performance(y, f),
        "plain_logistic": nc.performance(y, p),
        "deviance": {"follicle": deviance(y, f), "plain_logistic": deviance(y, p)},
    }
    # Temporal: fit 1999-2004, check 2005-2006. No MMA there: for B12 180-350 (Roche scale) the
    # outcome is the expected value from the 1999-2004 imputation model.
    tr = nc.subset(d, d["cycle"] != "2005-2006")
    te = nc.subset(d, d["cycle"] == "2005-2006")
    kb, plain, fill = fold_models(tr)
    y_te = impute_outcome(tr, te)
    pf, pp = nc.kb_predict(kb, te), predict_plain(plain, te, fill)
    low = (te["b12_roche"] < nc.B12_DEFICIENT).astype(float)
    res["temporal_2005_2006"] = {
        "note": "fit on 1999-2004; outcome for B12 180-350 (Roche scale) is the expected value "
        "P(MMA > 0.45) from 1999-2004 (AUC with fractional outcomes). 'b12_below_180_auc' "
        "scores the B12 < 180 component alone.",
        "follicle": nc.performance(y_te, pf),
        "plain_logistic": nc.performance(y_te, pp),
        "b12_below_180_auc": {
            "follicle": nc.auc_delong(low, pf)[0],
            "plain_logistic": nc.auc_delong(low, pp)[0],
        },
    }
    return res


def summary_md(out: dict) -> str:
    def row(label: str, m: dict) -> str:
        ci = f" ({m['auc_ci95'][0]:.3f}-{m['auc_ci95'][1]:.3f})" if "auc_ci95" in m else ""
        return (
            f"| {label} | {m['n']} | {m['observed']:.0f} | {m['auc']:.3f}{ci} | {m['brier']:.4f} | "
            f"{m['oe']:.2f} | {m['calibration_slope']:.2f} | {m['calibration_in_the_large']:.2f} |"
        )

    v = out["internal_validation"]
    lines = [
        "# NHANES B12 model: internal validation (1999-2006 only)",
        "",
        "Generated by `benchmarks/nhanes/derive.py`. Held-out cycles 2011-2014 are not used here.",
        "",
        "| validation / model | n | cases | AUC (95% CI) | Brier | O/E | cal. slope | CITL |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in (*nc.CYCLES_WITH_MMA, "pooled"):
        lines.append(row(f"LOCO {c}: follicle", v["leave_one_cycle_out"][c]["follicle"]))
        lines.append(
            row(f"LOCO {c}: plain logistic", v["leave_one_cycle_out"][c]["plain_logistic"])
        )
    t = v["temporal_2005_2006"]
    lines.append(row("2005-2006 (fit 1999-2004): follicle", t["follicle"]))
    lines.append(row("2005-2006 (fit 1999-2004): plain logistic", t["plain_logistic"]))
    a = out["apparent"]
    lines.append(row("apparent 1999-2004: follicle", a["follicle_1999_2004"]))
    lines.append(
        row("apparent 1999-2004: follicle without labs", a["follicle_without_labs_1999_2004"])
    )
    lines.append(row("apparent 1999-2004: plain logistic", a["plain_logistic_1999_2004"]))
    lines.append(row("apparent 1999-2006 (fractional): follicle", a["follicle_all_fractional"]))
    lines.append(
        row(
            "apparent 1999-2006 (fractional): follicle without labs",
            a["follicle_without_labs_all_fractional"],
        )
    )
    lines.append(
        row("apparent 1999-2006 (fractional): plain logistic", a["plain_logistic_all_fractional"])
    )
    if "model_selection" in out:
        lines += [
            "",
            "Model selection (leave-one-cycle-out, pooled):",
            "",
            "| structure | CV deviance | AUC | cal. slope |",
            "|---|---|---|---|",
        ]
        for r in out["model_selection"]:
            lines.append(
                f"| {r['model']} | {r['cv_deviance']:.1f} | {r['auc']:.3f} | "
                f"{r['calibration_slope']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--skip-select", action="store_true", help="skip the model-structure comparison (faster)"
    )
    args = ap.parse_args(argv)
    t0 = time.time()
    log(f"reading {nc.data_csv()} (cycles {', '.join(nc.DERIVATION_CYCLES)} only)")
    d = derivation_data()
    n_und = int(np.isnan(d["y_obs"]).sum())
    log(f"derivation population: n={len(d['cycle'])}, undetermined outcomes (fractional)={n_und}")
    y = impute_outcome(d, d)
    model = Model(FINAL)
    fit = model.fit(d, y)
    kb = rounded(model.express(fit, d, y))
    text = to_yaml(kb)
    assert yaml.safe_load(text) == kb, "YAML round trip mismatch"
    nc.KB_PATH.parent.mkdir(parents=True, exist_ok=True)
    nc.KB_PATH.write_text(text, encoding="utf-8")
    log(f"wrote {nc.KB_PATH.relative_to(nc.REPO_ROOT)}")

    ok = ~np.isnan(d["y_obs"]) & np.isin(d["cycle"], nc.CYCLES_WITH_MMA)
    dd = nc.subset(d, ok)
    plain = fit_plain(d, y)
    fill = plain_fill(d)

    def without_labs(x: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(x["cycle"])
        return {**x, "mcv_fl": np.full(n, np.nan), "hb_g_l": np.full(n, np.nan)}

    apparent = {
        "note": "whole derivation set (optimistic). *_1999_2004: MMA cycles, determined outcomes; "
        "*_all_fractional: all four cycles with the fractional (imputed) outcomes.",
        "follicle_1999_2004": nc.performance(dd["y_obs"], nc.kb_predict(kb, dd)),
        "follicle_without_labs_1999_2004": nc.performance(
            dd["y_obs"], nc.kb_predict(kb, without_labs(dd))
        ),
        "plain_logistic_1999_2004": nc.performance(dd["y_obs"], predict_plain(plain, dd, fill)),
        "follicle_all_fractional": nc.performance(y, nc.kb_predict(kb, d)),
        "follicle_without_labs_all_fractional": nc.performance(
            y, nc.kb_predict(kb, without_labs(d))
        ),
        "plain_logistic_all_fractional": nc.performance(y, predict_plain(plain, d, fill)),
    }
    log("internal validation ...")
    out = {
        "derivation": {
            "cycles": list(nc.DERIVATION_CYCLES),
            "population": "age >= 20, not pregnant; 1999-2000 women aged 20-44 excluded",
            "crosswalk": "Roche = 10**(0.97*log10(Bio-Rad) + 0.14) pg/mL "
            "(NCHS VITB12_G documentation)",
            "n": len(y),
            "cases_observed": int(np.nansum(d["y_obs"])),
            "cases_expected_incl_fractional": float(np.sum(y)),
            "undetermined_fractional": n_und,
            "by_cycle": {
                c: {
                    "n": int(np.sum(d["cycle"] == c)),
                    "cases_observed": int(np.nansum(d["y_obs"][d["cycle"] == c])),
                    "cases_expected": float(np.sum(y[d["cycle"] == c])),
                }
                for c in nc.DERIVATION_CYCLES
            },
            "model": FINAL.name,
            "unconstrained_factor_odds_ratios": unconstrained_factors(d, y),
            "coefficients": [float(x) for x in fit.coef],
            "plain_logistic_coef": dict(
                zip(["intercept", *nc.PLAIN_FEATURES], [float(x) for x in plain.coef], strict=True)
            ),
            "plain_logistic_fill": fill,
        },
        "apparent": apparent,
        "internal_validation": validate(d),
    }
    if not args.skip_select:
        log("model selection (leave-one-cycle-out) ...")
        out["model_selection"] = select(d)
    nc.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (nc.RESULTS_DIR / "nhanes_b12_internal.json").write_text(json.dumps(out, indent=2) + "\n")
    (nc.RESULTS_DIR / "nhanes_b12_internal.md").write_text(summary_md(out))
    v = out["internal_validation"]
    for name in ("follicle", "plain_logistic"):
        m = v["leave_one_cycle_out"]["pooled"][name]
        log(
            f"LOCO pooled {name}: AUC {m['auc']:.3f} "
            f"({m['auc_ci95'][0]:.3f}-{m['auc_ci95'][1]:.3f}), "
            f"Brier {m['brier']:.4f}, O/E {m['oe']:.2f}, slope {m['calibration_slope']:.2f}, "
            f"CITL {m['calibration_in_the_large']:.2f}"
        )
        t = v["temporal_2005_2006"][name]
        log(
            f"2005-2006 {name}: AUC {t['auc']:.3f}, O/E {t['oe']:.2f}, "
            f"slope {t['calibration_slope']:.2f}"
        )
    log(f"done in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
