"""Held-out benchmark: score follicle's B12 probability on NHANES 2011-2012 and 2013-2014.

Run from the repository root:

    .venv/bin/python benchmarks/nhanes/evaluate.py             # follicle.assess (+ the formula)
    .venv/bin/python benchmarks/nhanes/evaluate.py --formula   # the knowledge-file formula only
    .venv/bin/python benchmarks/nhanes/evaluate.py --dry-run   # pipeline test, 2003-2004, in-sample

Population: every adult (age >= 20), not pregnant, with a serum B12 result. Outcome (Roche
Elecsys values as measured): B12 < 180 pg/mL, or B12 <= 350 pg/mL with MMA > 0.45 umol/L; the
few people with B12 180-350 and no MMA are undetermined and left out (counted in the output).

Each person becomes a screening case (no `hair` section): age, sex, medications (metformin,
omeprazole, ranitidine for the NHANES class flags), the b12 supplement flag, haemoglobin (g/dL)
and MCV (fL) when measured. The reference is a plain main-effects logistic regression fitted on
1999-2006 (outcome built exactly as in derive.py). Writes benchmarks/results/nhanes_b12.json and
nhanes_b12.md (with --dry-run: nhanes_b12_dryrun.*).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import derive  # noqa: E402
import nhanes_common as nc  # noqa: E402

DRY_RUN_CYCLES = ("2003-2004",)
MED_NAMES = {"metformin": "metformin", "ppi": "omeprazole", "h2ra": "ranitidine"}
TARGETS = {"auc_min": 0.68, "oe": [0.85, 1.15], "calibration_slope": [0.8, 1.2]}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fmt(x: float, nd: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------


def build_case(d: dict[str, np.ndarray], i: int) -> dict:
    case: dict = {
        "format": "follicle-case/1",
        "id": f"nhanes-{int(d['SEQN'][i])}",
        "age": float(d["age_years"][i]),
        "sex": "female" if d["female"][i] == 1 else "male",
    }
    meds = [{"name": name} for flag, name in MED_NAMES.items() if d[flag][i] == 1]
    history: dict = {}
    if meds:
        history["medications"] = meds
    if d["b12_supplement"][i] == 1:
        history["supplements"] = ["b12"]
    if history:
        case["history"] = history
    labs = []
    if not math.isnan(d["hgb_g_dl"][i]):
        labs.append({"test": "hemoglobin", "value": float(d["hgb_g_dl"][i]), "unit": "g/dL"})
    if not math.isnan(d["mcv_fl"][i]):
        labs.append({"test": "mcv", "value": float(d["mcv_fl"][i]), "unit": "fL"})
    if labs:
        case["labs"] = labs
    return case


def score_with_api(d: dict[str, np.ndarray]) -> np.ndarray:
    try:
        import follicle
    except ImportError:  # not installed: use the source tree
        sys.path.insert(0, str(nc.REPO_ROOT / "src"))
        import follicle
    n = len(d["cycle"])
    out = np.empty(n)
    t0 = time.time()
    for i in range(n):
        a = follicle.assess(build_case(d, i))
        out[i] = float(a.to_dict()["b12"]["probability"])
        if (i + 1) % 1000 == 0 or i + 1 == n:
            log(f"  follicle.assess: {i + 1}/{n} cases ({time.time() - t0:.0f} s)")
    return out


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------


def calibration_table(y: np.ndarray, p: np.ndarray, groups: int = 10) -> list[dict]:
    order = np.argsort(p, kind="mergesort")
    rows = []
    for part in np.array_split(order, groups):
        rows.append(
            {
                "n": len(part),
                "mean_predicted": float(p[part].mean()),
                "observed_rate": float(y[part].mean()),
                "observed": int(y[part].sum()),
                "expected": float(p[part].sum()),
            }
        )
    return rows


def meets(m: dict) -> dict:
    return {
        "auc": bool(m["auc"] >= TARGETS["auc_min"]),
        "oe": bool(TARGETS["oe"][0] <= m["oe"] <= TARGETS["oe"][1]),
        "calibration_slope": bool(
            TARGETS["calibration_slope"][0]
            <= m["calibration_slope"]
            <= TARGETS["calibration_slope"][1]
        ),
    }


LABELS = {
    "follicle_api": "follicle (follicle.assess)",
    "follicle_formula": "follicle formula (b12_population.yaml)",
    "plain_logistic": "plain logistic, fitted 1999-2006 (reference)",
}


def markdown(res: dict) -> str:
    dry = ", DRY RUN, in-sample" if res["dry_run"] else ""
    lines = [
        f"# NHANES B12 benchmark ({', '.join(res['cycles'])}{dry})",
        "",
        f"Outcome: {nc.OUTCOME_TEXT} (Roche Elecsys values as measured). "
        "Population: adults aged 20 "
        f"or over, not pregnant. n = {res['population']['n_scored']} scored "
        f"({res['population']['cases']} cases; {res['population']['undetermined_excluded']} with "
        "undetermined outcome left out). Model derived from NHANES 1999-2006 only.",
        "",
        "| model | AUC (95% CI, DeLong) | Brier | O/E (95% CI) | calibration slope (95% CI) "
        "| CITL (95% CI) | targets met |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, label in LABELS.items():
        if key not in res["models"]:
            continue
        m = res["models"][key]["all"]
        ok = m.get("meets_targets", {})
        okt = (
            "yes"
            if ok and all(ok.values())
            else "no (" + ", ".join(k for k, v in ok.items() if not v) + ")"
        )
        lines.append(
            f"| {label} | {fmt(m['auc'])} ({fmt(m['auc_ci95'][0])} to {fmt(m['auc_ci95'][1])}) | "
            f"{fmt(m['brier'], 4)} | {fmt(m['oe'], 2)} "
            f"({fmt(m['oe_ci95'][0], 2)} to {fmt(m['oe_ci95'][1], 2)}) | "
            f"{fmt(m['calibration_slope'], 2)} ({fmt(m['calibration_slope_ci95'][0], 2)} to "
            f"{fmt(m['calibration_slope_ci95'][1], 2)}) | {fmt(m['calibration_in_the_large'], 2)} "
            f"({fmt(m['calibration_in_the_large_ci95'][0], 2)} to "
            f"{fmt(m['calibration_in_the_large_ci95'][1], 2)}) | {okt} |"
        )
    lines += [
        "",
        f"Targets: AUC >= {TARGETS['auc_min']}, O/E {TARGETS['oe'][0]}-{TARGETS['oe'][1]}, "
        f"calibration slope {TARGETS['calibration_slope'][0]}-{TARGETS['calibration_slope'][1]}.",
        "",
    ]
    if len(res["cycles"]) > 1:
        lines += [
            "By cycle:",
            "",
            "| model | cycle | n | cases | AUC | O/E | slope |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, label in LABELS.items():
            if key not in res["models"]:
                continue
            for c in res["cycles"]:
                m = res["models"][key]["by_cycle"][c]
                lines.append(
                    f"| {label} | {c} | {m['n']} | {m['observed']:.0f} | {fmt(m['auc'])} | "
                    f"{fmt(m['oe'], 2)} | {fmt(m['calibration_slope'], 2)} |"
                )
        lines.append("")
    if "agreement_api_vs_formula" in res:
        a = res["agreement_api_vs_formula"]
        lines += [
            f"follicle.assess vs formula: max |difference| {a['max_abs_diff']:.2g}, "
            f"{a['n_differ_gt_1e-6']} of {a['n']} cases differ by more than 1e-6.",
            "",
        ]
    lines.append(f"Generated by `benchmarks/nhanes/evaluate.py` in {res['seconds']:.0f} s.")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="NHANES 2011-2014 held-out B12 benchmark")
    ap.add_argument(
        "--formula",
        action="store_true",
        help="score the knowledge-file formula directly (no follicle.assess)",
    )
    ap.add_argument(
        "--dry-run",
        action="store_true",
        help="test the pipeline on 2003-2004 (derivation data, in-sample); "
        "never reads the held-out cycles",
    )
    args = ap.parse_args(argv)
    t0 = time.time()
    cycles = DRY_RUN_CYCLES if args.dry_run else nc.HELDOUT_CYCLES

    log("fitting the plain reference model on 1999-2006 ...")
    dev = derive.derivation_data()
    y_dev = derive.impute_outcome(dev, dev)
    plain = derive.fit_plain(dev, y_dev)
    fill = derive.plain_fill(dev)

    log(f"reading cycles {', '.join(cycles)} from {nc.data_csv()} ...")
    d = nc.load_participants(cycles)
    d = nc.subset(d, nc.population_mask(d, exclude_unknown_pregnancy_1999=args.dry_run))
    y = nc.outcome(nc.b12_on_roche_scale(d), d["mma_umol_l"])
    n_pop, n_und = len(y), int(np.isnan(y).sum())
    d = nc.subset(d, ~np.isnan(y))
    y = y[~np.isnan(y)]
    log(
        f"population {n_pop}; undetermined outcome {n_und} left out; scoring {len(y)} "
        f"({int(y.sum())} cases)"
    )

    kb = yaml.safe_load(nc.KB_PATH.read_text(encoding="utf-8"))
    preds: dict[str, np.ndarray] = {"follicle_formula": nc.kb_predict(kb, d)}
    if not args.formula:
        log("scoring with follicle.assess ...")
        preds["follicle_api"] = score_with_api(d)
    preds["plain_logistic"] = derive.predict_plain(plain, d, fill)

    res: dict = {
        "benchmark": "nhanes_b12",
        "dry_run": args.dry_run,
        "mode": "formula" if args.formula else "follicle.assess",
        "cycles": list(cycles),
        "outcome": nc.OUTCOME_TEXT,
        "population": {
            "definition": "age >= 20, not pregnant, serum B12 measured",
            "n": n_pop,
            "undetermined_excluded": n_und,
            "n_scored": len(y),
            "cases": int(y.sum()),
            "prevalence": float(y.mean()),
        },
        "case_fields": [
            "age",
            "sex",
            "history.medications",
            "history.supplements",
            "labs.hemoglobin (g/dL)",
            "labs.mcv (fL)",
        ],
        "knowledge_file": str(nc.KB_PATH.relative_to(nc.REPO_ROOT)),
        "reference_model": {
            "name": "plain main-effects logistic regression fitted on NHANES 1999-2006",
            "coef": dict(
                zip(["intercept", *nc.PLAIN_FEATURES], [float(c) for c in plain.coef], strict=True)
            ),
            "missing_lab_fill": fill,
        },
        "targets": TARGETS,
        "models": {},
    }
    for key, p in preds.items():
        m = nc.performance(y, p)
        m["meets_targets"] = meets(m)
        res["models"][key] = {
            "all": m,
            "by_cycle": {c: nc.performance(y[d["cycle"] == c], p[d["cycle"] == c]) for c in cycles},
            "calibration_deciles": calibration_table(y, p),
        }
        log(
            f"{LABELS[key]}: AUC {m['auc']:.3f} ({m['auc_ci95'][0]:.3f}-{m['auc_ci95'][1]:.3f}), "
            f"Brier {m['brier']:.4f}, O/E {m['oe']:.2f}, slope {m['calibration_slope']:.2f}, "
            f"CITL {m['calibration_in_the_large']:.2f}"
        )
    if "follicle_api" in preds:
        diff = np.abs(preds["follicle_api"] - preds["follicle_formula"])
        res["agreement_api_vs_formula"] = {
            "n": len(diff),
            "max_abs_diff": float(diff.max()),
            "n_differ_gt_1e-6": int(np.sum(diff > 1e-6)),
        }
    res["seconds"] = time.time() - t0
    stem = "nhanes_b12_dryrun" if args.dry_run else "nhanes_b12"
    nc.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (nc.RESULTS_DIR / f"{stem}.json").write_text(json.dumps(res, indent=2) + "\n", encoding="utf-8")
    (nc.RESULTS_DIR / f"{stem}.md").write_text(markdown(res), encoding="utf-8")
    log(f"wrote benchmarks/results/{stem}.json and .md ({res['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
