"""The one text guard: a user's text shown as typed on a terminal, in a figure or in HTML.

Names, file names, parameter paths and expressions come from people and files,
and may hold what a terminal, matplotlib or a browser would act on instead of
showing: terminal escape sequences (colours, cursor moves, OSC 8 hyperlinks
such as a clickable ``file:///etc/passwd``), bidirectional overrides that
reorder what is shown, rich markup (``[link=...]``), matplotlib mathtext
(``$x^$`` stops a figure from drawing) and HTML tags.

* `for_terminal` shows every control and format character as an escape
  (``\\x1b``, ``\\u202e``); the command line's consoles (`balancesim.cli.console`)
  pass everything they print through it and never parse rich markup, and
  error messages go through it too, so a command prints text, not effects,
  with no code of its own.
* `for_matplotlib` escapes ``$`` for a text drawn with mathtext on; the
  figures package (`balancesim.figures`) turns mathtext off for every figure
  instead, so its labels need no call.
* `for_html` escapes ``<``, ``>``, ``&`` and quotes for a page.

This module imports only the standard library: every layer may use it.
"""

from __future__ import annotations

import html
import unicodedata

# Categories that act instead of showing: controls (C0, DEL, C1, ESC among them),
# format characters (bidirectional overrides, zero-width joiners), lone surrogates,
# private use and unassigned code points.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_KEPT = {"\n": True, "\t": True}  # layout a terminal shows as layout (only where lines are allowed)


def _escape(c: str) -> str:
    code = ord(c)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def for_terminal(text: object, lines: bool = True) -> str:
    """``text`` as a terminal shows it literally: every control or format character escaped.

    With ``lines`` newlines and tabs are kept (a table, a paragraph); without,
    they are escaped too, so the result is one line (an error message).
    """
    s = str(text)
    if s.isprintable() and (lines or "\n" not in s):
        return s  # the common case, checked in C
    out = []
    for c in s:
        if lines and c in _KEPT:
            out.append(c)
        elif unicodedata.category(c) in _HIDDEN or c in "\n\t":
            out.append(_escape(c))
        else:
            out.append(c)
    return "".join(out)


def for_matplotlib(text: object) -> str:
    """``text`` for a matplotlib label with mathtext on: each ``$`` escaped, controls escaped.

    `balancesim.figures` turns mathtext off for every figure, so its own
    labels are shown as typed without this; use it for a figure drawn elsewhere.
    """
    return for_terminal(text).replace("$", r"\$")


def for_html(text: object) -> str:
    """``text`` for an HTML page: markup characters and quotes escaped, controls escaped."""
    return html.escape(for_terminal(text), quote=True)
