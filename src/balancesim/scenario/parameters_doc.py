"""The table of the model's coefficients in docs/scenarios.md, generated from `Parameters`.

Regenerate it after changing a coefficient:

    .venv/bin/python -c "from balancesim.scenario.parameters_doc import update_parameters_doc as u; u()"
"""

from __future__ import annotations

from pathlib import Path

from balancesim.scenario.parameters import Parameters
from balancesim.scenario.text import format_number


def parameters_table_markdown() -> str:
    """The Markdown table of `Parameters` for docs/scenarios.md.

    Generated from the model so the documentation cannot drift from the code;
    a test checks that docs/scenarios.md contains exactly this table.
    """
    lines = [
        "| Parameter | Default | Unit | Range | Claims | Meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in Parameters.model_fields.items():
        extra = f.json_schema_extra if isinstance(f.json_schema_extra, dict) else {}
        lo = next((m.ge for m in f.metadata if hasattr(m, "ge")), None)
        hi = next((m.le for m in f.metadata if hasattr(m, "le")), None)
        meaning = (f.description or "").rsplit(" [", 1)[0].replace("|", "\\|")
        lines.append(
            f"| `{name}` | {format_number(f.default)} | {extra.get('unit', '')} | "
            f"{format_number(lo)}..{format_number(hi)} | {extra.get('claims', '')} | {meaning} |"
        )
    return "\n".join(lines) + "\n"


_TABLE_BEGIN = "<!-- BEGIN parameters table: generated, do not edit by hand -->"
_TABLE_END = "<!-- END parameters table -->"
DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def replace_parameters_table(text: str) -> str:
    """`text` (docs/scenarios.md) with the generated table between its markers."""
    start, end = text.index(_TABLE_BEGIN), text.index(_TABLE_END)
    return text[: start + len(_TABLE_BEGIN)] + "\n" + parameters_table_markdown() + text[end:]


def update_parameters_doc(path: str | Path = DOCS_PATH) -> bool:
    """Regenerate the parameters table in docs/scenarios.md; True if it changed."""
    doc = Path(path)
    old = doc.read_text(encoding="utf-8")
    new = replace_parameters_table(old)
    if new != old:
        doc.write_text(new, encoding="utf-8")
    return new != old
