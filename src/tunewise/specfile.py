"""Reading a spec file's text: YAML or JSON, as a bounded tree of JSON values.

A spec is user input that ends up stored as JSON and copied into every trial, so the reader
refuses, in one sentence naming the file (or the field), what would hurt later:

- a key given twice in one mapping (YAML and JSON parsers silently keep the last one, which
  would hide a typo such as two hyperparameters of the same name);
- a document that expands, through YAML aliases (``*name``), to more than
  :data:`MAX_NODES` values (an "alias bomb": nine levels of nine aliases is 387 million values
  once written out as JSON), or whose alias refers to itself (an infinite tree). Aliases used
  legitimately (a shared list of metrics, a merged mapping) are counted and kept;
- a document nested more than :data:`MAX_DEPTH` levels deep (deeper nesting exhausts Python's
  stack in the parsers, and no spec needs more than a handful of levels).

YAML is read with YAML 1.2's booleans (only ``true`` and ``false``, in any of their three
cases): YAML 1.1 would read the key ``on`` of ``retries: {on: [crashed, lost]}`` as ``True``,
and a categorical value ``no`` as ``False``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from typing import Any

from tunewise.errors import SpecError

#: The most values (scalars, lists and mappings, counted once per use of an alias) a spec file
#: may hold: a real spec holds hundreds.
MAX_NODES = 100_000
#: The deepest nesting of lists and mappings a spec file may hold.
MAX_DEPTH = 64

_BOOL_TAG = "tag:yaml.org,2002:bool"
_YAML12_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


def load_spec_data(text: str, source: str) -> Mapping[str, Any]:
    """The mapping a spec file holds (YAML, or JSON when ``source`` ends in ``.json``)."""
    data = parse_json(text, source) if source.endswith(".json") else parse_yaml(text, source)
    if not isinstance(data, Mapping):
        raise SpecError(source, "must hold a mapping with study, objective, space, trial, ...")
    return data


def load_document(text: str, source: str) -> Any:
    """A JSON document, else (unless ``source`` ends in ``.json``) a YAML one: what a tool that
    takes ``--cli-input-json`` or ``--cli-input-yaml`` reads, with the same bounds as a spec."""
    try:
        return parse_json(text, source)
    except _NotJson:
        if source.lower().endswith(".json"):
            raise
    return parse_yaml(text, source)


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)


# YAML ----------------------------------------------------------------------------------------
def parse_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``, bounded as the module docstring says; raises SpecError."""
    import yaml

    try:
        loader = _loader_class()(text)  # (it refuses unprintable characters at once)
    except yaml.YAMLError as exc:
        raise SpecError(source, f"is not valid YAML ({_one_line(exc)})") from None
    try:
        try:
            node = loader.get_single_node()
        except _TooDeep as exc:
            raise SpecError(
                source,
                f"nests lists and mappings more than {MAX_DEPTH} levels deep (line "
                f"{exc.line}); a spec needs only a few levels",
            ) from None
        if node is None:
            return None
        _Walk(source).size(node, "", 0)
        return loader.construct_document(node)
    except SpecError:
        raise
    except yaml.YAMLError as exc:
        raise SpecError(source, f"is not valid YAML ({_one_line(exc)})") from None
    except (ValueError, OverflowError) as exc:  # a date out of range, an int of 5,000 digits
        raise SpecError(source, f"holds a value YAML cannot read ({_one_line(exc)})") from None
    finally:
        loader.dispose()


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


class _TooDeep(Exception):
    def __init__(self, line: int) -> None:
        self.line = line


@functools.cache
def _loader_class() -> type[Any]:
    """A SafeLoader with YAML 1.2 booleans that refuses nesting deeper than MAX_DEPTH while it
    composes (built on first use, so importing tunewise does not import PyYAML)."""
    import yaml

    class SpecLoader(yaml.SafeLoader):
        yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        depth = 0

        def compose_node(self, parent: Any, index: Any) -> Any:
            self.depth += 1
            try:
                if self.depth > MAX_DEPTH:
                    raise _TooDeep(self.peek_event().start_mark.line + 1)
                return super().compose_node(parent, index)
            finally:
                self.depth -= 1

    SpecLoader.add_implicit_resolver(_BOOL_TAG, _YAML12_BOOL, list("tTfF"))
    return SpecLoader


class _Walk:
    """One pass over a composed YAML node graph, where an alias is the anchored node itself
    (shared, possibly recursive): the size and depth each node has once written out, a key
    given twice, a node that contains itself. Each node is examined once (memoised), so the
    pass is linear in the file however large its expansion."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.known: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
        self.active: set[int] = set()

    def size(self, node: Any, path: str, depth: int) -> tuple[int, int]:
        import yaml

        key = id(node)
        if key in self.active:
            raise SpecError(
                path or self.source,
                "contains itself through an alias (*name); a spec must be a finite tree",
            )
        if key not in self.known:
            self.active.add(key)
            total, height = 1, 0
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, value_node in node.value:
                    name = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
                    if name is not None and name in seen:
                        line = key_node.start_mark.line + 1
                        raise SpecError(
                            _join(path, name), f"is defined twice (line {line}); keep one"
                        )
                    seen.add(name)
                    for child in (key_node, value_node):
                        size, child_height = self.size(child, _join(path, name), depth + 1)
                        total, height = total + size, max(height, child_height + 1)
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    size, child_height = self.size(item, f"{path}[{i}]", depth + 1)
                    total, height = total + size, max(height, child_height + 1)
            self.active.discard(key)
            self.known[key] = (total, height)
        total, height = self.known[key]
        if total > MAX_NODES:
            raise SpecError(
                path or self.source,
                f"expands through aliases (*name) to {total:,} values, over the limit of "
                f"{MAX_NODES:,}; write the values out or use fewer aliases",
            )
        if depth + height > MAX_DEPTH:
            raise SpecError(
                path or self.source,
                f"nests lists and mappings more than {MAX_DEPTH} levels deep once its aliases "
                "are expanded; a spec needs only a few levels",
            )
        return total, height


# JSON ----------------------------------------------------------------------------------------
class _NotJson(SpecError):
    """The text is not JSON at all (as opposed to JSON that breaks a bound)."""


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as read, before duplicates are checked."""


def parse_json(text: str, source: str) -> Any:
    """The JSON document in ``text``, keys given twice and deep nesting refused (SpecError)."""
    try:
        raw = json.loads(text, object_pairs_hook=_Pairs)
    except RecursionError:
        raise SpecError(
            source,
            f"nests arrays and objects more than {MAX_DEPTH} levels deep; "
            "a spec needs only a few levels",
        ) from None
    except ValueError as exc:
        raise _NotJson(source, f"is not valid JSON ({exc})") from None
    return _json_objects(raw, "", 0, source)


def _json_objects(value: Any, path: str, depth: int, source: str) -> Any:
    if depth > MAX_DEPTH:
        raise SpecError(
            source,
            f"nests arrays and objects more than {MAX_DEPTH} levels deep; "
            "a spec needs only a few levels",
        )
    if isinstance(value, _Pairs):
        out: dict[str, Any] = {}
        for key, item in value:
            if key in out:
                raise SpecError(_join(path, key), "is defined twice; keep one")
            out[key] = _json_objects(item, _join(path, key), depth + 1, source)
        return out
    if isinstance(value, list):
        return [_json_objects(item, f"{path}[{i}]", depth + 1, source) for i, item in
                enumerate(value)]  # fmt: skip
    return value
