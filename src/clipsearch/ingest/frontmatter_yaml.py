"""Frontmatter YAML: the safe loader clips are read with, and a faster way to build
its result.

PyYAML's C loader parses in C but builds the Python objects in Python, a few method
calls per node (a news clip's frontmatter has some 90 nodes): that took half of
reading a clip.  `load` builds plain mappings, lists, strings and UTC timestamps to
the second itself and leaves every other node (numbers, other dates, null, booleans,
other tags) to the loader's own constructors; a document it does not take as plain
(an alias to a mapping or list, a merge key, any error) is built again by the loader
from the start, so the result and every error are the loader's."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"


class ClipLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe YAML loader (C-accelerated when libyaml is present) that keeps
    YAML 1.1's `yes/no/on/off` as strings, so a topic `NO` (Norway) stays `NO`.
    Only `true`/`false` are booleans, as in YAML 1.2."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        """The resolver's tag for a node, its implicit resolvers looked up once per
        first character (the loader asks for every node's tag)."""
        if self.yaml_path_resolvers:
            return super().resolve(kind, value, implicit)
        if kind is ScalarNode:
            if implicit[0]:
                tag = _PLAIN_TAGS.get(value)
                if tag is None:
                    tag = _plain_tag(value)
                    if len(value) <= _MEMO_LENGTH and len(_PLAIN_TAGS) < _MEMO_VALUES:
                        _PLAIN_TAGS[value] = tag
                return tag
            return _STR
        return _SEQ if kind is SequenceNode else _MAP


def _plain_tag(value: str) -> str:
    for tag, regexp in _RESOLVERS.get(value[:1], _WILDCARD):
        if regexp.match(value):
            return tag
    return _STR


ClipLoader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in _BaseLoader.yaml_implicit_resolvers.copy().items()
}
ClipLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
#: The implicit resolvers tried for a plain scalar, by its first character ("" for
#: an empty one), the wildcard ones after them, as the resolver tries them.
_WILDCARD = tuple(ClipLoader.yaml_implicit_resolvers.get(None, []))
_RESOLVERS = {
    first: tuple(resolvers) + _WILDCARD
    for first, resolvers in ClipLoader.yaml_implicit_resolvers.items()
    if first is not None
}

#: The tag of a plain scalar depends on its text alone; short ones repeat from clip to
#: clip (every key, `article`, a provider's name, a topic), so their tags are kept.
_PLAIN_TAGS: dict[str, str] = {}
_MEMO_LENGTH, _MEMO_VALUES = 40, 50_000

#: A timestamp in the form news clips use, to the second in UTC: built here as
#: PyYAML's construct_yaml_timestamp builds it (any other form is left to it).
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_UTC_SECONDS = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})Z\Z")

#: Keys the loader's `flatten_mapping` rewrites (`<<` and `=`).
_SPECIAL_KEYS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")


class _NotPlain(Exception):
    """The document needs the loader's own construction."""


def load(text: str) -> Any:
    """`yaml.load(text, Loader=ClipLoader)`: the same result, or the same error."""
    loader = ClipLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(loader, node, set())
        except Exception:  # _NotPlain, or an error the loader is to report itself
            loader.constructed_objects, loader.recursive_objects = {}, {}
            loader.state_generators = []
            return loader.construct_document(node)
    finally:
        loader.dispose()


def _build(loader: Any, node: Any, seen: set[int]) -> Any:
    tag, kind = node.tag, type(node)
    if kind is ScalarNode:
        if tag == _STR:
            return node.value
        if tag == _TIMESTAMP and (m := _UTC_SECONDS.match(node.value)):
            return datetime(*map(int, m.groups()), tzinfo=UTC)  # raises if impossible
        return loader.construct_object(node, deep=True)
    if tag == _MAP and kind is MappingNode:
        if id(node) in seen:  # an alias: the loader shares one object
            raise _NotPlain
        seen.add(id(node))
        out = {}
        for key_node, value_node in node.value:
            if key_node.tag in _SPECIAL_KEYS:
                raise _NotPlain
            key = _build(loader, key_node, seen)
            out[key] = _build(loader, value_node, seen)  # an unhashable key raises
        return out
    if tag == _SEQ and kind is SequenceNode:
        if id(node) in seen:
            raise _NotPlain
        seen.add(id(node))
        return [_build(loader, item, seen) for item in node.value]
    raise _NotPlain
