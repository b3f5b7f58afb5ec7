"""A griffe extension for the API reference: tunewise's docstrings name code with Sphinx roles
(:class:`Study`, :func:`~tunewise.report`), which Markdown would show as written. Each role
becomes a code span (`Study`) before mkdocstrings renders the docstring."""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|mod|data|exc|obj|const):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrites ``:role:`target``` as a code span in every docstring griffe loads."""

    def on_instance(self, *, obj: Any, **_: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)
