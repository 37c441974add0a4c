"""Every matplotlib figure: `runs` (a run's plots), `sweep` (a sweep's plots), `view`
(the cells of the browser view), `hindcast` and `discover`. Imported by the command
line, the browser view and the report writers only.

The text guard for figures is here, once for all: importing this package turns
matplotlib's mathtext off (`text.parse_math`), so every title, label, legend and
annotation is drawn as typed. A name such as ``Budget $x^$`` shows its dollar
signs instead of stopping the figure. A figure drawn anywhere in the tool gets
this by importing from `balancesim.figures` (or calling `pyplot()`), with no
escaping of its own.
"""

from __future__ import annotations

from types import ModuleType

import matplotlib

matplotlib.rcParams["text.parse_math"] = False  # every text is literal (no `$...$` mathtext)


def pyplot() -> ModuleType:
    """`matplotlib.pyplot` on the file-only Agg backend, with mathtext off (see above)."""
    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False
    import matplotlib.pyplot as plt

    return plt
