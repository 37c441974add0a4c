"""The figures of `balancesim discover`: the PRIM peeling trajectory and the chosen box."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from matplotlib.figure import Figure

if TYPE_CHECKING:
    from balancesim.analysis.discover import Discovery


def discovery_figures(d: Discovery) -> dict[str, Figure]:
    """tradeoff.png (coverage against density along the trajectory) and box.png (the box's limits)."""
    out: dict[str, Figure] = {}
    tr = d.trajectory
    fig = Figure(figsize=(6.4, 4.8))
    ax = fig.add_subplot()
    points = ax.scatter(tr["coverage"], tr["density"], c=tr["restricted"], cmap="viridis", s=22, zorder=3)
    ax.plot(tr["coverage"], tr["density"], color="0.7", lw=0.8, zorder=2)
    box = d.box
    ax.scatter(
        [box["coverage"]], [box["density"]], s=160, facecolors="none", edgecolors="red", lw=1.6, zorder=4
    )
    ax.annotate(
        f"box {d.chosen}",
        (box["coverage"], box["density"]),
        textcoords="offset points",
        xytext=(8, -12),
        color="red",
    )
    ax.axhline(d.cases / d.runs, color="0.5", ls=":", lw=1)
    ax.text(0.02, d.cases / d.runs, " share of all runs", va="bottom", fontsize=8, color="0.4")
    ax.set_xlabel("coverage (share of the runs of interest inside the box)")
    ax.set_ylabel("density (share of runs inside the box that are of interest)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    fig.colorbar(points, ax=ax, label="restricted inputs")
    ax.set_title(f"PRIM peeling trajectory\n{d.expression}", fontsize=10)
    fig.tight_layout()
    out["tradeoff.png"] = fig

    lim = d.limits
    fig = Figure(figsize=(7.2, 1.2 + 0.55 * max(len(lim), 1)))
    ax = fig.add_subplot()
    row: Any  # pandas types the fields of itertuples' rows as any scalar; here they are numbers
    for i, row in enumerate(lim.itertuples(index=False)):
        span = max(row.full_high - row.full_low, 1e-12)
        lo, hi = (row.low - row.full_low) / span, (row.high - row.full_low) / span
        lo, hi = max(lo, 0.0), min(hi, 1.0)
        ax.barh(i, 1.0, left=0.0, color="0.9", edgecolor="0.6")
        ax.barh(i, hi - lo, left=lo, color="tab:blue", alpha=0.8)
        ax.text(lo, i + 0.32, f"{max(row.low, row.full_low):.3g}", ha="center", fontsize=8)
        ax.text(hi, i + 0.32, f"{min(row.high, row.full_high):.3g}", ha="center", fontsize=8)
        ax.text(1.02, i, f"qp {row.qp:.1e}", va="center", fontsize=8)
    ax.set_yticks(range(len(lim)), list(lim["input"]))
    ax.set_xlim(0, 1.18)
    ax.set_ylim(-0.6, max(len(lim), 1) - 0.2)
    ax.invert_yaxis()
    ax.set_xlabel("position within the input's range in the runs (0: lowest, 1: highest)")
    ax.set_title(
        f"Box {d.chosen}: coverage {box['coverage']:.2f}, density {box['density']:.2f} "
        f"(all runs: {d.cases / d.runs:.2f})",
        fontsize=10,
    )
    fig.tight_layout()
    out["box.png"] = fig
    return out
