"""Do the patterns P1-P8 hold across plausible coefficients, not at one tuned point?

Each draw multiplies every coefficient of the model (`Parameters`) by its own
random factor, uniform in [0.7, 1.4] (clipped to the coefficient's valid
range; coefficients at 0 stay 0), writes the drawn values into a copy of the
scenario folder (in `baseline.yaml`, which every other scenario extends) and
runs the whole validation with its knock-outs on that copy. It reports, per
draw, which checks pass, and per check in how many draws it passed.

    .venv/bin/python benchmarks/robustness.py --draws 10 --replicates 300

The figure of merit is the number of draws in which every check passes. It
is slow (a full validation per draw), so it lives here, not in the tests.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np
import yaml

from balancesim.scenario.schema import Parameters
from balancesim.validation import CHECKS, PASS, run_validation


def draw_parameters(rng: np.random.Generator, low: float, high: float) -> dict[str, float]:
    """Every coefficient times a factor uniform in [low, high], clipped to its valid range."""
    out = {}
    for name, field in Parameters.model_fields.items():
        lo = next(m.ge for m in field.metadata if hasattr(m, "ge"))
        hi = next(m.le for m in field.metadata if hasattr(m, "le"))
        out[name] = float(np.clip(field.default * rng.uniform(low, high), lo, hi))
    return out


def with_parameters(scenarios: Path, values: dict[str, float], folder: Path) -> Path:
    """A copy of the scenario folder whose baseline sets `values` (other scenarios extend it)."""
    shutil.copytree(scenarios, folder, dirs_exist_ok=True)
    base = folder / "baseline.yaml"
    data = yaml.safe_load(base.read_text())
    data["parameters"] = {**values, **(data.get("parameters") or {})}
    base.write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def main() -> None:
    """Run the draws and print the table and the figure."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--replicates", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--first", type=int, default=0, help="skip the draws before this one (to split the work)")
    ap.add_argument("--low", type=float, default=0.7)
    ap.add_argument("--high", type=float, default=1.4)
    ap.add_argument("--scenarios", type=Path, default=Path(__file__).resolve().parents[1] / "scenarios")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    names = [c.id for c in CHECKS]
    passed = {n: 0 for n in names}
    all_pass = 0
    print("draw  " + " ".join(f"{n:>6}" for n in names))
    for d in range(args.draws):
        values = draw_parameters(rng, args.low, args.high)
        if d < args.first:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = with_parameters(args.scenarios, values, Path(tmp) / "scenarios")
            v = run_validation(replicates=args.replicates, scenario_dir=folder, mechanisms=())
        verdicts = {r.check.id: r.outcome.verdict for r in v.results}
        for n in names:
            passed[n] += verdicts[n] == PASS
        all_pass += all(verdicts[n] == PASS for n in names)
        print(f"{d:>4}  " + " ".join(f"{verdicts[n]:>6}" for n in names), flush=True)
    print("passed " + " ".join(f"{passed[n]:>6}" for n in names))
    done = args.draws - args.first
    print(f"All checks pass in {all_pass} of {done} draws ({args.replicates} runs per arm).")


if __name__ == "__main__":
    main()
