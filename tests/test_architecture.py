"""The tree is the architecture: concept packages, layers that point one way, no import cycles.

The layers and the forbidden imports are import-linter contracts in pyproject.toml, run by
`make test` (`lint-imports`); these tests guard what the contracts cannot say.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "src" / "balancesim"


def _graph() -> nx.DiGraph:
    """Every import between balancesim's modules, those inside functions included (grimp sees them);
    imports under `if TYPE_CHECKING:` are annotations only and are left out, as in the contracts."""
    imports = grimp.build_graph("balancesim", exclude_type_checking_imports=True, cache_dir=None)
    graph = nx.DiGraph()
    for module in imports.modules:
        graph.add_node(module)
        for imported in imports.find_modules_directly_imported_by(module):
            graph.add_edge(module, imported)
    return graph


def _cycles(graph: nx.DiGraph) -> list[list[str]]:
    # A package's __init__ importing its own submodules is how a package re-exports names;
    # a cycle is a module reached again from itself through other modules.
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_import_cycles_at_all():
    cycles = _cycles(_graph())
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_check_sees_imports_inside_functions(tmp_path):
    """The check above can fail: an import inside a function that closes a loop is a cycle."""
    graph = _graph()
    assert graph.has_edge("balancesim.cli.run", "balancesim.experiment.batch")  # imported inside `run`
    graph.add_edge("balancesim.experiment.batch", "balancesim.cli.run")
    assert _cycles(graph)


def test_only_init_and_main_sit_at_the_top():
    top = sorted(p.name for p in SRC.glob("*.py"))
    assert top == ["__init__.py", "__main__.py"]


def test_an_upward_import_breaks_the_contracts(tmp_path):
    """`lint-imports` fails when a lower layer imports a higher one (a copy of the package)."""
    copy = tmp_path / "src"
    subprocess.run(["cp", "-r", str(REPO / "src"), str(copy)], check=True)
    engine = copy / "balancesim" / "model" / "engine.py"
    upward = "\n\ndef _upward():\n    from balancesim.cli import main  # noqa\n"
    engine.write_text(engine.read_text() + upward)
    lint = Path(sys.executable).with_name("lint-imports")
    command = [str(lint), "--config", str(REPO / "pyproject.toml"), "--no-cache"]
    env = {"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"}
    broken = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert broken.returncode != 0
    assert "balancesim.model is not allowed to import balancesim.cli" in broken.stdout
    clean = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert clean.returncode == 0, clean.stdout
