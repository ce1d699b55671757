"""YAML parsing that remembers the file line of every mapping, key and list item.

PyYAML's safe loader forgets where values came from; staff need `path:line: message`, so this loader builds
`LineDict`/`LineList` (plain dict/list subclasses carrying line numbers). It also reports what PyYAML lets
slip silently (a key written twice) and turns impossible dates like 2026-02-30 into a `BadScalar` to be
reported by the schema checker instead of raising a bare ValueError.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode


class LineDict(dict):  # type: ignore[type-arg]
    """A mapping with `line` (where it starts) and `key_lines` (key → line of that key)."""

    def __init__(self, *args: Any, line: int = 0, key_lines: dict[Any, int] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.line = line
        self.key_lines: dict[Any, int] = dict(key_lines or {})


class LineList(list):  # type: ignore[type-arg]
    """A list with `line` (where it starts) and `item_lines` (the line of each item)."""

    def __init__(self, *args: Any, line: int = 0, item_lines: list[int] | None = None):
        super().__init__(*args)
        self.line = line
        self.item_lines: list[int] = list(item_lines or [])


class BadScalar(str):
    """A scalar that looked like a date or time but is not a real one; `reason` says why."""

    reason: str = ""


@dataclass(frozen=True)
class YamlIssue:
    """A problem found while parsing (syntax error, duplicate key), with its 1-based file line."""

    line: int
    message: str


class YamlSyntaxError(Exception):
    """The text is not valid YAML; `line` is the 1-based file line the parser stopped at."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


class _LineLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings and sequences carry file lines (shifted by `line_offset`)."""

    line_offset: int = 0
    issues: list[YamlIssue]

    def file_line(self, node: Node) -> int:
        return node.start_mark.line + 1 + self.line_offset


def _construct_mapping(loader: _LineLoader, node: Node) -> LineDict:
    if not isinstance(node, MappingNode):  # pragma: no cover - the resolver only sends mappings here
        raise yaml.constructor.ConstructorError(None, None, "expected a mapping", node.start_mark)
    loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys like the safe loader does
    result = LineDict(line=loader.file_line(node))
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping", node.start_mark, "a key cannot be a list or a mapping", key_node.start_mark
            ) from None
        key_line = loader.file_line(key_node)
        if key in result:
            loader.issues.append(
                YamlIssue(key_line, f"key '{key}' appears twice in the same block (first at line "
                                    f"{result.key_lines[key]}); the second would silently win")
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_line
    return result


def _construct_sequence(loader: _LineLoader, node: Node) -> LineList:
    if not isinstance(node, SequenceNode):  # pragma: no cover
        raise yaml.constructor.ConstructorError(None, None, "expected a list", node.start_mark)
    return LineList(
        (loader.construct_object(child, deep=True) for child in node.value),
        line=loader.file_line(node),
        item_lines=[loader.file_line(child) for child in node.value],
    )


def _construct_timestamp(loader: _LineLoader, node: Node) -> Any:
    try:
        return loader.construct_yaml_timestamp(node)
    except ValueError as error:  # e.g. 2026-02-30: "day is out of range for month"
        bad = BadScalar(loader.construct_scalar(node))  # type: ignore[arg-type]
        bad.reason = str(error)
        return bad


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def parse_yaml(text: str, line_offset: int = 0) -> tuple[Any, list[YamlIssue]]:
    """Parse one YAML document; lines are 1-based file lines, `line_offset` lines below the text's start.

    Raises YamlSyntaxError (with the parser's line) when the text is not valid YAML.
    """
    try:
        loader = _LineLoader(text)  # the reader rejects control characters here, before parsing starts
    except yaml.reader.ReaderError as error:
        raise YamlSyntaxError(text[: error.position].count("\n") + 1 + line_offset, f"invalid YAML: {error.reason}; "
                              f"remove the invisible character #x{error.character:04x}") from None
    loader.line_offset = line_offset
    loader.issues = []
    try:
        data = loader.get_single_data()
    except yaml.reader.ReaderError as error:
        raise YamlSyntaxError(text[: error.position].count("\n") + 1 + line_offset, f"invalid YAML: {error.reason}; "
                              f"remove the invisible character #x{error.character:04x}") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = (mark.line + 1 + line_offset) if mark is not None else 1 + line_offset
        parts = [p for p in (error.context, error.problem) if p]
        raise YamlSyntaxError(line, "invalid YAML: " + ", ".join(parts)) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(1 + line_offset, f"invalid YAML: {error}") from None
    except RecursionError:
        raise YamlSyntaxError(1 + line_offset, "invalid YAML: nesting or aliases too deep") from None
    finally:
        loader.dispose()
    return data, list(loader.issues)


def line_of(value: Any, default: int) -> int:
    """The file line of a parsed mapping or list, or `default` for scalars."""
    return int(getattr(value, "line", 0) or default)


def to_plain(value: Any) -> Any:
    """A parsed value as plain dicts, lists and scalars (line bookkeeping dropped)."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, BadScalar):
        return str(value)
    return value
