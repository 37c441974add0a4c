"""Scenario discovery: the boxes of inputs in which an outcome happens (PRIM, with a CART tree beside it).

Given the runs of a sweep or of a run with drawn values, and a condition on
each run's outcomes (`balance[kazakhstan]@60 < 0`), which ranges of the
inputs make the condition likely? Two maintained methods answer it:

* **PRIM** (Friedman and Fisher 1999; Bryant and Lempert 2010), from the
  `prim` package (the standalone version of EMA Workbench's PRIM). It peels
  the box of all inputs a little at a time, each step removing the slice
  that raises the share of runs of interest inside most. The result is a
  *peeling trajectory* of nested boxes, trading **coverage** (the share of all
  runs of interest that fall inside the box) for **density** (the share of
  runs inside the box that are of interest). Each limit of a box gets a
  quasi-p value: a one-sided binomial test of whether the limit raises the
  density at all (Bryant and Lempert 2010); a limit with a large value is
  likely noise.
* **CART** (scikit-learn's `DecisionTreeClassifier`): a shallow tree whose
  leaves are boxes too; it sees interactions PRIM's single box cannot.

The chosen box (rule fixed here, not tuned to a result): the densest box on
the trajectory whose coverage is at least `min_coverage` (default 0.8); ties
go to the larger coverage. `box=` picks one by its index instead.

Both libraries are an optional extra: `pip install 'balancesim[discover]'`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from balancesim.analysis.expressions import Condition, evaluate, parse_condition, references, slug
from balancesim.analysis.results_data import ResultsData, ResultsError, check_reference
from balancesim.experiment.folders import Output

MIN_COVERAGE = 0.8
TREE_DEPTH = 3


class MissingExtra(RuntimeError):
    """The optional libraries of `discover` are not installed."""


MIN_CASES = 30  # fewer runs showing the outcome than this: warn
MAX_QP = 0.05  # a restricted input whose quasi-p is above this: warn


@dataclass
class Discovery:
    """What `discover` found: the outcome per run, PRIM's trajectory and box, CART's leaves."""

    expression: str
    data: ResultsData
    inputs: pd.DataFrame  # the inputs that vary, one row per run
    outcome: np.ndarray  # bool per run
    trajectory: pd.DataFrame  # box, coverage, density, mass, restricted
    chosen: int
    limits: pd.DataFrame  # input, low, high, full_low, full_high, qp
    leaves: pd.DataFrame  # rule, runs, cases, density, coverage
    tree_text: str
    min_coverage: float
    by_hand: bool = False  # the box was chosen with `box=`, not by the coverage rule

    @property
    def warnings(self) -> list[str]:
        """Plain warnings about a box that may not mean much: few cases, limits within chance."""
        out = []
        if self.cases < MIN_CASES:
            out.append(
                f"warning: only {self.cases} of {self.runs} runs show the outcome (fewer than {MIN_CASES}): "
                "a box drawn around so few cases may be chance; run more replicates"
            )
        weak = self.limits[self.limits["qp"] > MAX_QP]
        if len(weak):
            out.append(
                f"warning: the box restricts {len(weak)} input(s) whose quasi-p is above {MAX_QP:g} "
                f"({', '.join(weak['input'])}): those limits may be chance; a box without them is "
                "simpler (--box with fewer restricted inputs)"
            )
        return out

    @property
    def runs(self) -> int:
        return len(self.outcome)

    @property
    def cases(self) -> int:
        return int(self.outcome.sum())

    @property
    def box(self) -> pd.Series:
        return self.trajectory.iloc[self.chosen]


def _libraries() -> tuple[Any, Any]:
    try:
        import prim
        from sklearn import tree
    except ImportError as e:
        raise MissingExtra(
            f"discover needs the optional libraries prim and scikit-learn ({e.name} is missing): "
            "pip install 'balancesim[discover]'"
        ) from None
    return prim, tree


def outcome_of(data: ResultsData, condition: Condition) -> np.ndarray:
    """The condition evaluated run by run (bool); ResultsError for names the folder lacks."""
    resolved = {ref: check_reference(data, ref) for ref in references(condition)}
    result = evaluate(condition, lambda ref: data.values(*resolved[ref]))
    return np.broadcast_to(np.asarray(result, dtype=bool), (len(data.inputs),)).copy()


def varied_inputs(data: ResultsData) -> pd.DataFrame:
    """The numeric inputs that take more than one value, as floats."""
    frame = data.inputs.apply(pd.to_numeric, errors="coerce").astype(float)
    keep = [c for c in frame.columns if frame[c].notna().all() and frame[c].nunique() > 1]
    if not keep:
        raise ResultsError(f"{data.folder}: no input varies between runs, so there is nothing to explain by")
    return frame[keep]


def choose_box(trajectory: pd.DataFrame, min_coverage: float) -> int:
    """The densest box with coverage >= min_coverage (ties: larger coverage, then earlier)."""
    ok = trajectory[trajectory["coverage"] >= min_coverage - 1e-12]
    if ok.empty:
        return 0
    best = ok.sort_values(["density", "coverage", "box"], ascending=[False, False, True], kind="stable")
    return int(best["box"].iloc[0])


def discover(
    data: ResultsData,
    expression: str,
    min_coverage: float = MIN_COVERAGE,
    box: int | None = None,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
    tree_depth: int = TREE_DEPTH,
) -> Discovery:
    """Run PRIM and CART on the runs in `data` for the outcome `expression`.

    Raises ExpressionError (bad syntax), ResultsError (names the folder lacks,
    an outcome that never or always happens, nothing varied) and MissingExtra.
    """
    prim, sktree = _libraries()
    condition = parse_condition(expression)
    outcome = outcome_of(data, condition)
    x = varied_inputs(data)
    n, k = len(outcome), int(outcome.sum())
    if k == 0 or k == n:
        raise ResultsError(
            f"'{expression}' holds in {k} of {n} runs: "
            f"{'never' if k == 0 else 'always'}, so no inputs set it apart"
        )
    finder = prim.Prim(x, outcome.astype(int), peel_alpha=peel_alpha, mass_min=mass_min)
    found = finder.find_box()
    trajectory = found.peeling_trajectory.rename(columns={"res dim": "restricted"}).reset_index(drop=True)
    trajectory.insert(0, "box", np.arange(len(trajectory)))
    trajectory["restricted"] = trajectory["restricted"].astype(int)
    if box is not None and not 0 <= box < len(trajectory):
        raise ResultsError(f"--box {box}: the trajectory has boxes 0..{len(trajectory) - 1}")
    chosen = choose_box(trajectory, min_coverage) if box is None else box
    found.select(chosen)
    limits = _limits(found, chosen, x)
    leaves, text = _tree(sktree, x, outcome, tree_depth)
    return Discovery(
        expression=expression,
        data=data,
        inputs=x,
        outcome=outcome,
        trajectory=trajectory[["box", "coverage", "density", "mass", "restricted"]],
        chosen=chosen,
        limits=limits,
        leaves=leaves,
        tree_text=text,
        min_coverage=min_coverage,
        by_hand=box is not None,
    )


def _limits(found: Any, chosen: int, x: pd.DataFrame) -> pd.DataFrame:
    """Each restricted input's limits in the chosen box, its full range and quasi-p value.

    `found` has the chosen box selected; its `limits` lists the restricted
    inputs only, with their quasi-p values (the `prim` package's own test).
    """
    lims = found.limits if chosen > 0 else pd.DataFrame(columns=["min", "max", "qp values"])
    rows = [
        {
            "input": str(name),
            "low": float(row["min"]),
            "high": float(row["max"]),
            "full_low": float(x[name].min()),
            "full_high": float(x[name].max()),
            "qp": float(row["qp values"]),
        }
        for name, row in lims.iterrows()
    ]
    frame = pd.DataFrame(rows, columns=["input", "low", "high", "full_low", "full_high", "qp"])
    return frame.sort_values("qp", kind="stable").reset_index(drop=True)


def _tree(sktree: Any, x: pd.DataFrame, outcome: np.ndarray, depth: int) -> tuple[pd.DataFrame, str]:
    """A shallow CART tree: one row per leaf with its rule, runs, cases, density and coverage."""
    n = len(outcome)
    model = sktree.DecisionTreeClassifier(
        max_depth=depth, min_samples_leaf=max(5, n // 50), random_state=0
    ).fit(x.to_numpy(), outcome)
    t = model.tree_
    total = max(int(outcome.sum()), 1)
    rows = []
    leaf_of = model.apply(x.to_numpy())

    def walk(node: int, bounds: dict[str, list[float]]) -> None:
        if t.children_left[node] == -1:
            inside = leaf_of == node
            cases = int(outcome[inside].sum())
            runs = int(inside.sum())
            rule = " and ".join(_bound_text(name, lo, hi) for name, (lo, hi) in bounds.items()) or "all runs"
            rows.append(
                {
                    "rule": rule,
                    "runs": runs,
                    "cases": cases,
                    "density": cases / runs if runs else 0.0,
                    "coverage": cases / total,
                }
            )
            return
        name, cut = x.columns[t.feature[node]], float(t.threshold[node])
        lo, hi = bounds.get(name, [-np.inf, np.inf])
        walk(t.children_left[node], {**bounds, name: [lo, min(hi, cut)]})
        walk(t.children_right[node], {**bounds, name: [max(lo, cut), hi]})

    walk(0, {})
    leaves = pd.DataFrame(rows).sort_values(["density", "runs"], ascending=False, kind="stable")
    text = sktree.export_text(model, feature_names=[str(c) for c in x.columns], decimals=3)
    return leaves.reset_index(drop=True), text


def _bound_text(name: str, lo: float, hi: float) -> str:
    if np.isfinite(lo) and np.isfinite(hi):
        return f"{lo:.4g} < {name} <= {hi:.4g}"
    return f"{name} <= {hi:.4g}" if np.isfinite(hi) else f"{name} > {lo:.4g}"


# --------------------------------------------------------------------------- output


def rule_text(d: Discovery) -> str:
    """How the box was chosen, for the table, the summary and the plots."""
    return "chosen with --box" if d.by_hand else f"densest box with coverage >= {d.min_coverage}"


def default_folder(data: ResultsData, expression: str) -> Path:
    """`RESULTS/discover-<slug of the expression>`."""
    return data.folder / f"discover-{slug(expression)}"


def summary(d: Discovery) -> dict[str, Any]:
    """The findings as JSON data (summary.json)."""
    box = d.box
    return {
        "warnings": d.warnings,
        "expression": d.expression,
        "results": str(d.data.folder),
        "kind": d.data.kind,
        "runs": d.runs,
        "cases": d.cases,
        "base_rate": d.cases / d.runs,
        "inputs": list(d.inputs.columns),
        "rule": rule_text(d),
        "chosen_box": d.chosen,
        "coverage": float(box["coverage"]),
        "density": float(box["density"]),
        "mass": float(box["mass"]),
        "limits": d.limits.to_dict(orient="records"),
        "tree_leaves": d.leaves.to_dict(orient="records"),
    }


# a Discovery -> {file name: matplotlib Figure}
Figures = Callable[["Discovery"], dict[str, Any]]


def write_outputs(d: Discovery, folder: Path | Output, figures: Figures | None = None) -> list[Path]:
    """Write summary.json, trajectory.csv, box.csv, tree.csv, tree.txt and plots/, atomically.

    `figures(d)` draws them (`figures.discover.discovery_figures`, passed by the command line).

    Everything goes into a hidden partial folder that replaces `folder` only
    when complete (`folders.written_whole`: the output-folder policy of
    `discover`, checked and locked); `folder` may be an `Output` the command
    line opened, which it commits.
    """
    import json

    from balancesim.experiment.folders import written_whole

    final = folder.folder if isinstance(folder, Output) else Path(folder)
    with written_whole(folder, "discover") as partial:
        (partial / "plots").mkdir()
        (partial / "summary.json").write_text(json.dumps(summary(d), indent=1) + "\n")
        d.trajectory.to_csv(partial / "trajectory.csv", index=False, float_format="%.6g")
        d.limits.to_csv(partial / "box.csv", index=False, float_format="%.6g")
        d.leaves.to_csv(partial / "tree.csv", index=False, float_format="%.6g")
        (partial / "tree.txt").write_text(d.tree_text)
        for name, fig in (figures(d) if figures else {}).items():
            fig.savefig(partial / "plots" / name, dpi=120)
    if isinstance(folder, Output):
        return folder.commit()
    return sorted(p for p in final.rglob("*") if p.is_file() and not p.name.startswith("."))
