"""A report to share: one self-contained HTML file of a run or a comparison folder.

`read_report` gathers what a folder holds (manifest, summary or comparison
table, figures) into a `Report`; `report_html` writes it as one HTML page that
needs nothing else: figures are embedded as `data:` URIs, the style is inline,
nothing is loaded from the network. Every text that comes from a scenario or a
folder is escaped for HTML.

Every file is read through the verified reader (`scenario.verified`): checked
against the sha256 the folder's marker (or an older run's manifest) lists,
files it does not list are not read; damage raises `verified.DamagedFile`.
The page names the folder it reports (`source_key`, a hash of its resolved
path), so that `is_report_of` can tell an earlier report of the same folder,
which may be replaced, from any other file, which may not.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any, cast

import pandas as pd

from balancesim.experiment.effects import direction_words
from balancesim.experiment.store import ManifestError
from balancesim.scenario import verified

KEY = "balancesim-report-of"  # the <meta> naming the folder a report is of


class ReportError(ValueError):
    """A folder that is neither a run nor a comparison (one line, for exit status 2)."""


@dataclass
class Report:
    kind: str  # "run" or "compare"
    title: str
    question: str
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # (caption, table)
    notes: list[str] = field(default_factory=list)  # definitions printed under the tables
    figures: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, PNG)
    assumptions: list[str] = field(default_factory=list)
    reproduce: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""  # source_key of the folder


def source_key(folder: Path) -> str:
    """What names a folder in its reports: the sha256 of its resolved path (no path is shown)."""
    return hashlib.sha256(str(Path(folder).resolve()).encode("utf-8", "surrogateescape")).hexdigest()


def is_report_of(path: Path, folder: Path) -> bool:
    """Is `path` a regular file holding a report of `folder` written by `balancesim report`?"""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return f'<meta name="{KEY}" content="{source_key(folder)}">'.encode() in head


class _Files:
    """The files of a folder as the verified reader gives them (only those its listing names)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.listed = verified.listing(folder)

    def has(self, name: str) -> bool:
        return (self.folder / name).is_file() and (self.listed is None or name in self.listed)

    def read(self, name: str) -> bytes:
        path = self.folder / name
        entry = None if self.listed is None else self.listed.get(name)
        if self.listed is not None and entry is None and name != "manifest.json":
            raise verified.DamagedFile(path, "not listed by the folder's marker (not written with it)")
        return verified.read_bytes(path, entry, limit=1 << 30)

    def csv(self, name: str, **options: Any) -> pd.DataFrame:
        return pd.read_csv(io.BytesIO(self.read(name)), **options)

    def figures(self) -> list[str]:
        names = (
            self.listed
            if self.listed is not None
            else {p.relative_to(self.folder).as_posix(): {} for p in self.folder.rglob("*.png")}
        )
        return sorted(n for n in names if n.endswith(".png"))


def _manifest(files: _Files) -> dict[str, Any]:
    path = files.folder / "manifest.json"
    try:
        value = json.loads(files.read("manifest.json").decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ManifestError(f"{path}: not a manifest ({str(e)[:80]})") from None
    if not isinstance(value, dict):
        raise ManifestError(f"{path}: not a manifest (expected a JSON object)")
    return value


def read_report(folder: Path) -> Report:
    """The report of a `run` or `compare` output folder, or ReportError; damage is `DamagedFile`."""
    files = _Files(folder)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise ReportError(f"{folder}: not a run or comparison folder (no manifest.json)")
    manifest = _manifest(files)
    if "balancesim_compare" in manifest:
        report = _compare_report(files, manifest)
    elif "balancesim_run" in manifest:
        report = _run_report(files, manifest)
    else:
        raise ReportError(f"{manifest_path}: written by neither `balancesim run` nor `balancesim compare`")
    version = manifest.get("versions", {}).get("balancesim", "?")
    git = manifest.get("git") or {}
    commit = git.get("commit", "not recorded")
    if git.get("modified"):
        commit += " (with uncommitted changes)"
    report.reproduce = [
        ("command", " ".join(str(a) for a in manifest.get("command", [])) or "not recorded"),
        ("seed", str(manifest.get("seed"))),
        ("runs", str(manifest.get("replicates"))),
        ("balancesim version", str(version)),
        ("git commit", commit),
        ("written", str(manifest.get("created", "?"))),
    ]
    report.figures = [(name, files.read(name)) for name in files.figures()]
    report.source = source_key(folder)
    return report


def _run_report(files: _Files, manifest: dict[str, Any]) -> Report:
    from balancesim.scenario.assumptions import trend_assumptions
    from balancesim.scenario.schema import Scenario

    spec = manifest.get("scenario") or {}
    name = str(spec.get("name", "?"))
    base = manifest.get("baseline") or None
    base_name = str(base.get("name", "?")) if isinstance(base, dict) else None
    question = f"What does '{name}' do to the region"
    question += f", compared with '{base_name}'?" if base_name else "? (levels only: no comparison was run)"
    report = Report("run", f"{name}: report", question)
    if spec.get("description"):
        report.notes.append(str(spec["description"]))
    summary = files.csv("summary.csv", keep_default_na=False)
    last = int(summary["month"].max())
    at = summary[summary["month"] == last]
    actors = {a["id"]: a["name"] for a in spec.get("actors", [])}
    pair = (
        spec.get("balance") or [a["id"] for a in spec.get("actors", []) if a.get("kind") == "great_power"][:2]
    )
    names = (actors.get(pair[0], pair[0]), actors.get(pair[1], pair[1])) if len(pair) == 2 else ("a", "b")

    def label(row: Any) -> str:
        measure = row.measure + (f".{row.partner}" if row.partner else "")
        return f"{actors.get(row.actor, row.actor)}: {measure.replace('_', ' ')}"

    date = str(at["date"].iloc[0]) if len(at) else "?"
    effect = at[at["quantity"] == "effect"]
    if len(effect):
        rows = [
            {
                "effect on": label(r),
                "median": f"{r.median:+.3f}",
                "90% band": f"[{r.p5:+.3f}, {r.p95:+.3f}]",
                "meaning": direction_words(str(r.measure), float(cast(float, r.median)), *names),
            }
            for r in effect.itertuples()
            if r.measure
            in (
                "balance",
                "hedging_index",
                "third_party_share",
                "tension",
                "coordination",
                "restructuring",
                "gains",
                "members",
            )
        ]
        report.tables.append(
            (
                f"Effect at month {last} ({date}): paired difference, scenario minus comparison, "
                f"on common random numbers",
                pd.DataFrame(rows),
            )
        )
    levels = at[(at["quantity"] == "scenario") & (at["actor"] == "region")]
    report.tables.append(
        (
            f"Levels at month {last} ({date}), region",
            pd.DataFrame(
                [
                    {
                        "outcome": label(r),
                        "median": f"{r.median:+.3f}",
                        "90% band": f"[{r.p5:+.3f}, {r.p95:+.3f}]",
                    }
                    for r in levels.itertuples()
                ]
            ),
        )
    )
    for shock in spec.get("shocks", []):
        when = (
            f"month {shock['month']}"
            if shock.get("month") is not None
            else f"{shock.get('probability')}/month"
        )
        sev = shock.get("severity")
        sev_text = f"{sev['low']:g}–{sev['high']:g} (drawn per run)" if isinstance(sev, dict) else f"{sev:g}"
        report.assumptions.append(f"Shock: {shock['name']} at {when}, severity {sev_text}")
    uncertainty = manifest.get("uncertainty") or {}
    priors = uncertainty.get("priors") or {}
    if priors:
        report.assumptions.append(f"{len(priors)} inputs drawn per run from their priors (params.parquet):")
        for path, info in sorted(priors.items()):
            prior = info.get("prior", {}) if isinstance(info, dict) else {}
            shown = ", ".join(f"{k} {v}" for k, v in prior.items())
            report.assumptions.append(f"  {path}: {shown}")
    elif uncertainty.get("paths"):
        report.assumptions.append(
            f"Per-run values given (e.g. a posterior): {', '.join(uncertainty['paths'])}"
        )
    else:
        report.assumptions.append("No priors: the scenario's calibrated values in every run")
    for path in uncertainty.get("recorded", []):
        report.assumptions.append(f"Recorded per-run draw: {path} (params.parquet)")
    try:
        scenario = Scenario.model_validate(spec)
        report.assumptions += [f"Trend: {line}" for line in trend_assumptions(scenario)]
    except ValueError:
        pass
    return report


def _compare_report(files: _Files, manifest: dict[str, Any]) -> Report:
    scenarios = manifest.get("scenarios") or {}
    by = manifest.get("by", "?")
    report = Report(
        "compare",
        f"Scenarios compared by {by}",
        f"What is the chance that each state's balance tips toward {manifest.get('towards', '?')} by {by}, "
        "when, and what does each scenario change against the baseline?",
    )
    table = files.csv("comparison.csv")
    report.tables.append((f"Comparison by {by} (comparison.csv)", table))
    report.notes.append(str(manifest.get("definition", "")))
    for key, name in scenarios.items():
        report.assumptions.append(f"Scenario {key}: {name}")
    report.assumptions.append(f"Baseline: {manifest.get('baseline')}")
    posterior = manifest.get("posterior")
    report.assumptions.append(
        f"Uncertain inputs drawn from the calibration posterior in {posterior}"
        if posterior
        else "Uncertain inputs drawn from each scenario's priors"
    )
    return report


STYLE = """
body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.85em}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:first-child,th:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:0.5em 0}
code{background:#f4f4f4;padding:1px 3px}
"""


def report_html(report: Report) -> str:
    """The report as one self-contained HTML document (every text escaped)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta name="{KEY}" content="{escape(report.source)}">',
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">",
        f"<title>{escape(report.title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(report.title)}</h1>",
        f'<p class="question"><strong>The question:</strong> {escape(report.question)}</p>',
    ]
    for note in report.notes:
        parts.append(f"<p>{escape(note)}</p>")
    for caption, table in report.tables:
        parts.append(f"<h2>{escape(caption)}</h2>")
        parts.append(_table(table))
    if report.figures:
        parts.append("<h2>Figures</h2>")
    for name, png in report.figures:
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<figure><img alt="{escape(name)}" src="data:image/png;base64,{data}">')
        parts.append(f"<figcaption>{escape(name)}</figcaption></figure>")
    parts.append("<h2>Assumptions</h2><ul>")
    parts += [f"<li>{escape(line)}</li>" for line in report.assumptions]
    parts.append("</ul><h2>How to reproduce it</h2><table>")
    parts += [f"<tr><th>{escape(k)}</th><td><code>{escape(v)}</code></td></tr>" for k, v in report.reproduce]
    parts.append("</table></body></html>")
    return "\n".join(parts) + "\n"


def _table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    rows = []
    for values in table.itertuples(index=False):
        cells = "".join(f"<td>{escape(_cell(v))}</td>" for v in values)
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.3g}"
    return str(value)
