"""Read YAML while remembering where each key was, so errors can name file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

try:  # the C parser is about ten times faster; the constructor stays in Python
    _Base: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader

__all__ = ["LineDict", "LineList", "load_yaml_file", "load_yaml_text", "locate"]


class LineDict(dict[str, Any]):
    """A mapping that knows the 1-based line of itself and of each of its keys."""

    line: int = 0
    lines: dict[str, int]


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    lines: list[int]


class _LineLoader(_Base):  # type: ignore[misc,valid-type]
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> LineDict:
        self.flatten_mapping(node)
        out = LineDict()
        out.line = node.start_mark.line + 1
        out.lines = {}
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if key in out:  # YAML would keep the last silently: one entry overwriting another
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first on line {out.lines[key]})",
                    key_node.start_mark)
            out[key] = self.construct_object(value_node, deep=True)
            out.lines[key] = key_node.start_mark.line + 1
        return out

    def construct_sequence(self, node: yaml.SequenceNode, deep: bool = False) -> LineList:
        out = LineList(self.construct_object(child, deep=True) for child in node.value)
        out.line = node.start_mark.line + 1
        out.lines = [child.start_mark.line + 1 for child in node.value]
        return out


_LineLoader.add_constructor("tag:yaml.org,2002:map", _LineLoader.construct_mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _LineLoader.construct_sequence)


def load_yaml_file(path: Path) -> Any:
    """Parse one YAML file, keeping line numbers on every mapping and list; a syntax
    error becomes a KnowledgeError naming the file and line."""
    from ..errors import KnowledgeError

    try:
        with path.open("rb") as fh:
            return yaml.load(fh, Loader=_LineLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path.name}:{mark.line + 1}" if mark is not None else path.name
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise KnowledgeError(f"not valid YAML: {problem}", path=where) from None


def load_yaml_text(text: str) -> Any:
    """Parse YAML text strictly (a repeated key is an error, as in the knowledge base);
    yaml.MarkedYAMLError on problems."""
    return yaml.load(text, Loader=_LineLoader)


def locate(root: Any, loc: tuple[str | int, ...]) -> tuple[int, str]:
    """Best line number and dotted key for a path into data read by `load_yaml_file`."""
    node = root
    line = getattr(root, "line", 0)
    parts: list[str] = []
    for part in loc:
        parts.append(str(part))
        if isinstance(node, LineDict) and isinstance(part, str) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.lines[part]
            node = node[part]
        else:
            break
        line = getattr(node, "line", line) if not isinstance(node, (str, int, float)) else line
    return line, ".".join(parts)
