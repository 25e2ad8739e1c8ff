"""Likelihood ratios of the total-B12 bands (labs.yaml, `b12` informs) from NHANES 1999-2004.

Run from the repository root:

    .venv/bin/python benchmarks/nhanes/derive_b12_bands.py

Reads ONLY the cycles with MMA (1999-2000, 2001-2002, 2003-2004); the held-out 2011-2014 rows
are dropped while the CSV is read. Same population and outcome as the population model
(derive.py): adults not pregnant, Bio-Rad B12 crosswalked to the Roche scale, deficiency =
B12 < 180 pg/mL, or B12 <= 350 pg/mL with MMA > 0.45 umol/L.

Prints P(band | deficient) and P(band | not deficient) for the knowledge file's bands, with
counts. By that definition no one below 180 is "not deficient" and no one above 350 is
"deficient"; the knowledge file keeps small allowances there (assay and within-person
variation, falsely normal results), stated in its note.

Then the ratios of the two indeterminate bands conditional on follicle's own pre-test
probability (the engine without any B12 result: the population model with its blood-count
curves), which is what the engine multiplies: a logistic model of MMA > 0.45 among the
participants with B12 180-350 and MMA, logit(pre-test) as offset; and the same with a slope
on logit(pre-test), centred at its median (labs.yaml `pretest_centre`, `pretest_slope`).
"""

from __future__ import annotations

import math

import numpy as np
from evaluate import build_case
from nhanes_common import (
    CYCLES_WITH_MMA,
    b12_on_roche_scale,
    fit_logistic,
    load_participants,
    outcome,
    population_mask,
    subset,
)

BANDS = ((0, 150), (150, 180), (180, 250), (250, 350), (350, 500), (500, np.inf))


def main() -> int:
    d = load_participants(CYCLES_WITH_MMA)
    d = subset(d, population_mask(d, exclude_unknown_pregnancy_1999=True))
    b12_all = b12_on_roche_scale(d)
    y = outcome(b12_all, d["mma_umol_l"])
    known = ~np.isnan(y) & ~np.isnan(b12_all)
    b12, y = b12_all[known], y[known]
    n_d, n_nd = int(y.sum()), int((1 - y).sum())
    print(f"cycles {', '.join(CYCLES_WITH_MMA)}: n = {len(y)}, deficient = {n_d} "
          f"({n_d / len(y):.2%})")
    print("band (pg/mL)   deficient  not deficient  P(band|D)  P(band|not D)      LR")
    for lo, hi in BANDS:
        m = (b12 >= lo) & (b12 < hi)
        a, b = int(y[m].sum()), int((1 - y[m]).sum())
        pd, pn = a / n_d, b / n_nd
        lr = f"{pd / pn:7.2f}" if pn else "    inf"
        print(f"{lo:>5}-{hi:<8} {a:>9} {b:>14} {pd:>10.4f} {pn:>14.4f} {lr}")
    conditional(d, b12_all)
    return 0


def conditional(d: dict[str, np.ndarray], b12: np.ndarray) -> None:
    import follicle

    mma = d["mma_umol_l"]
    idx = np.where((b12 >= 180) & (b12 <= 350) & ~np.isnan(mma))[0]
    pre = np.array([follicle.assess(build_case(d, int(i))).b12.probability for i in idx])
    y = (mma[idx] > 0.45).astype(float)
    low = (b12[idx] < 250).astype(float)
    offset = np.log(pre / (1 - pre))
    x = np.column_stack([np.ones(len(idx)), low])
    fit = fit_logistic(x, y, offset=offset)
    se = np.sqrt(np.diag(fit.cov))
    a, b = fit.coef
    print(f"\nconditional on the pre-test (offset), n = {len(idx)}, raised MMA = {int(y.sum())}:")
    print(f"  LR 250-350: {math.exp(a):.2f} (95% CI {math.exp(a - 1.96 * se[0]):.2f}-"
          f"{math.exp(a + 1.96 * se[0]):.2f})")
    print(f"  LR 180-250: {math.exp(a + b):.2f}")
    centre = float(np.median(offset))
    free = fit_logistic(np.column_stack([x, offset - centre]), y, offset=offset)
    a, b, c = free.coef
    at = 1 / (1 + math.exp(-centre))
    print(f"  with a slope on logit(pre-test), centred at pre-test {at:.4f}:"
          f" slope {1 + c:.2f} (SE {math.sqrt(free.cov[2, 2]):.2f}); at the centre"
          f" LR 250-350 {math.exp(a):.2f}, LR 180-250 {math.exp(a + b):.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
