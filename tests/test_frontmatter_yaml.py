"""The frontmatter loader (frontmatter_yaml.py) builds what PyYAML's own resolver and
construction build with the same implicit resolvers, and fails with the same error."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from clipsearch.ingest import frontmatter_yaml
from clipsearch.ingest.clip import _HANDLER

FIXTURES = Path(__file__).parent / "fixtures"


def _outcome(load, text: str):
    try:
        return "ok", load(text)
    except RecursionError:
        return ("nested",)
    except Exception as exc:  # the type and message are what a clip's error shows
        return "error", type(exc).__name__, str(exc)


#: ClipLoader's resolvers with PyYAML's own resolve and construction: the reference.
Reference = type(
    "Reference",
    (getattr(yaml, "CSafeLoader", yaml.SafeLoader),),
    {"yaml_implicit_resolvers": frontmatter_yaml.ClipLoader.yaml_implicit_resolvers},
)


def _both(text: str):
    pyyaml = _outcome(lambda t: yaml.load(t, Loader=Reference), text)  # noqa: S506
    ours = _outcome(frontmatter_yaml.load, text)
    return pyyaml, ours


CASES = [
    "a: &x [1, 2]\nb: *x\n",  # an alias to a list: one shared object
    "- &m {a: 1}\n- *m\n",
    "a: &s x\nb: *s\n",  # an alias to a string
    "<<: {a: 1}\nb: 2\n",  # a merge key
    "base: &b {x: 1}\nitem:\n  <<: *b\n  y: 2\n",
    "=: 3\n",  # the value key
    "? [1]\n: 2\n",  # an unhashable key: an error
    "? {a: 1}\n: 2\n",
    "a: 2021-02-30\n",  # an impossible date: an error
    "a: !!python/object:os.system x\n",  # a refused tag
    "a: !custom x\n",
    "a: !!set {x, y}\n",
    "a: !!omap [x: 1]\n",
    "a: !!pairs [x: 1, x: 2]\n",
    "a: !!binary aGk=\n",
    "a: !!str 12\nb: !!int '7'\nc: !!float '1'\n",
    "a: !!map {b: 1}\nc: !!seq [d]\n",
    "a: NO\nb: true\nc: ~\nd: 1.5\ne: 0x1f\nf: 2022-01-01T00:00:00+05:00\ng: 2022-01-01\n",
    "a: 1\na: 2\n",  # a repeated key: the last one
    "1: one\n2.5: two\nnull: three\ntrue: four\n2022-01-01: five\n",
    "{a: b, c: [d, {e: f}]}",
    "a: [1, [2, [3, []]]]\nb: {}\n",
    "- a\n- b\n",
    "just text",
    "",
    "# only a comment\n",
    "--- a\n--- b\n",  # two documents: an error
    "a: [b\n",  # malformed
    "a: b: c\n",
    "a: [" * 3000,  # nested too deeply
    "a:\n  - title: t\n    provider: {name: n, domain: d}\n  - title: u\n",
    "title: \"caf\\u00e9 \\U0001F600\"\nx: 'it''s'\ny: |\n  two\n  lines\nz: >\n  folded\n  text\n",
    # Timestamps: the UTC-seconds form news clips use is built without PyYAML's
    # constructor; other forms, and impossible ones, are PyYAML's.
    "a: 2022-01-10T13:45:27Z\nb: [2022-12-31T23:59:59Z, '2022-01-10T13:45:27Z']\n",
    "a: 2022-01-10t13:45:27Z\nb: 2022-01-10T13:45:27.25Z\nc: 2022-01-10T13:45:27+02:00\n",
    "a: 2022-01-10 13:45:27Z\nb: 2022-1-9T3:45:27Z\nc: 2022-01-10T13:45:27 Z\n",
    "a: 2022-02-30T00:00:00Z\n",  # impossible
    "a: 2022-01-10T24:00:00Z\n",
    "a: 0000-01-01T00:00:00Z\n",
    "a: !!str 2022-01-10T13:45:27Z\nb: !!timestamp 2022-01-10T13:45:27Z\n",
    # Plain scalars seen before (their tags are kept): the same tags again.
    "title: true\ntype: 12\ntopics: ~\nnews: 2022-01-10T13:45:27Z\n",
    "title: true\ntype: 12\ntopics: ~\nnews: 2022-01-10T13:45:27Z\n",
]


@pytest.mark.parametrize("text", CASES)
def test_same_result_or_error_as_pyyaml(text):
    pyyaml, ours = _both(text)
    assert ours == pyyaml


def test_yes_no_stay_strings_and_only_true_false_are_booleans():
    loaded = frontmatter_yaml.load("a: NO\nb: yes\nc: off\nd: true\ne: FALSE\n")
    assert loaded == {"a": "NO", "b": "yes", "c": "off", "d": True, "e": False}


def test_an_alias_to_a_list_is_still_one_object():
    loaded = frontmatter_yaml.load("a: &x [1, 2]\nb: *x\n")
    assert loaded["a"] is loaded["b"]


def test_a_recursive_alias_is_built_as_pyyaml_builds_it():
    loaded = frontmatter_yaml.load("a: &x [1, *x]\n")
    assert loaded["a"][1] is loaded["a"]


def test_every_fixture_clip_loads_the_same():
    texts = [
        p.read_text("utf-8-sig", errors="replace")
        for p in sorted(FIXTURES.rglob("*"))
        if p.is_file()
    ]
    texts = [t for t in texts if t.lstrip("\ufeff").startswith("---")]
    assert len(texts) > 20
    for text in texts:
        try:
            fm, _body = _HANDLER.split(text)
        except ValueError:
            continue
        pyyaml, ours = _both(fm)
        assert ours == pyyaml


_scalars = st.one_of(
    st.text(max_size=8),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
    st.sampled_from(
        ["NO", "yes", "~", "2022-01-01", "2022-01-01T10:00:00Z", "0x10", "1e3", "<<", "="]
    ),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_scalars, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(_values, st.booleans())
def test_any_dumped_document_loads_the_same(value, flow):
    text = yaml.safe_dump(value, default_flow_style=flow, allow_unicode=True)
    pyyaml, ours = _both(text)
    assert ours == pyyaml
