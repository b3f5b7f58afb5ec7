"""MkDocs hooks: the pages generated at build time from the code itself.

- ``spec-reference.md`` from the spec's JSON Schema (:mod:`tunewise.schema_doc`);
- ``cli-reference.md`` from the ``tunewise`` command's argument parsers (:mod:`docs.gen.cli`
  is not a package: the walk lives here, in :func:`cli_markdown`).

Both are virtual files: nothing is written into docs/, so the pages can never be stale.
The Python API page gets every name of ``tunewise.__all__`` it does not place itself at its
``<!-- the other public names -->`` marker, so a new public name is documented the day it lands.
"""

from __future__ import annotations

import argparse
import os
import re
from typing import Any

from mkdocs.structure.files import File, Files


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """Each subcommand with its one-line help, in the order ``tunewise --help`` lists them."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                out.append((name, helps.get(name, ""), sub))
    return out


def cli_markdown() -> str:
    """The CLI reference: every command with its usage, arguments and their help."""
    from tunewise.cli.main import build_parser

    # argparse wraps to the terminal, and newer Pythons colour help on a terminal: a stable page
    saved = {name: os.environ.get(name) for name in ("COLUMNS", "NO_COLOR")}
    os.environ.update(COLUMNS="100", NO_COLOR="1")
    try:
        parser = build_parser()
        lines = [
            "# CLI reference",
            "",
            "<!-- generated from tunewise.cli.main.build_parser by docs/gen/hooks.py -->",
            "",
            "Generated from the `tunewise` command's own argument parsers. Exit codes: 0 done, "
            "1 the study failed or aborted, 2 a usage or spec error (one line on stderr naming "
            "the field), 130 interrupted (run the same command again to continue).",
            "",
            "| command | what it does |",
            "|---|---|",
        ]
        commands = _subcommands(parser)
        for name, help_text, _ in commands:
            lines.append(f"| [`{name}`](#{name}) | {help_text} |")
        lines += ["", "## tunewise", "", "```text", parser.format_help().rstrip(), "```", ""]
        for name, help_text, sub in commands:
            lines += [f"## {name}", "", help_text, "", "```text", sub.format_help().rstrip()]
            lines += ["```", ""]
        return "\n".join(lines)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def on_files(files: Files, config: Any, **_: Any) -> Files:
    from tunewise.schema_doc import reference_markdown

    for name, content in (
        ("spec-reference.md", reference_markdown()),
        ("cli-reference.md", cli_markdown()),
    ):
        files.append(File.generated(config, name, content=content))
    return files


MARKER = "<!-- the other public names -->"


#: A code block shown but not run by the tutorials' test (```python no-run): the mark is the
#: test's, the page shows a plain python block.
NO_RUN = re.compile(r"^(\s*```[\w-]+) no-run[ \t]*$", re.M)


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    markdown = NO_RUN.sub(r"\1", markdown)
    if page.file.src_uri != "python-api.md" or MARKER not in markdown:
        return markdown
    import tunewise

    shown = markdown.split(MARKER)[0]
    rest = [
        f"::: tunewise.{name}\n"
        for name in tunewise.__all__
        if not name.startswith("_") and f"::: tunewise.{name}\n" not in shown
    ]
    return markdown.replace(MARKER, "\n".join(rest) or "(none)")
