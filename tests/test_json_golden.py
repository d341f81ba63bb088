"""`search --json` output, byte for byte, on the test corpus for a fixed set of queries.

The expected lines were written by the code before the query layer was restructured
(issue 9): a refactor must not change a single byte of what scripts read.  To rewrite
them after a deliberate change of behaviour, run with CLIPSEARCH_WRITE_GOLDEN=1 and
review the diff."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_corpus

from clipsearch import update_index
from clipsearch.cli import main

GOLDEN = Path(__file__).parent / "fixtures" / "golden" / "search_json.jsonl"

#: Each entry: the arguments after `search`.  Plain words, typos, phrases, boolean
#: syntax, fields, prefixes, filters (exact and fuzzy), dates, sorts, paging, facets.
CASES: list[list[str]] = [
    ["facial recognition"],
    ["faical recogniton"],
    ["King County"],
    ['"King County" NOT china'],
    ["vaccine"],
    ["vacine booster"],
    ['"vaccine passports"'],
    ["wildfyre smoke"],
    ["satelite", "--limit", "2"],
    ["solar NOT rooftop"],
    ["ballot OR gdpr", "--limit", "4"],
    ["title:solar"],
    ["provider:reuters"],
    ["sat*"],
    ["police cameras robot"],
    ["what is gdpr?"],
    ["", "--limit", "5"],
    ["", "--sort", "quality", "--limit", "4"],
    ["solar", "--sort", "date"],
    ["vaccine", "--offset", "2", "--limit", "2"],
    ["satellite", "--topic", "ai"],
    ["wildfire", "--provider", "seattle times"],
    ["", "--topic", "computer visoin", "--provider", "natl law review"],
    ["", "--topic", "Climate", "--topic", "Health", "--facet-limit", "2"],
    ["", "--since", "2021-06-01", "--until", "2021-12-31", "--sort", "date"],
    ["ballot", "--since", "2021-06-01T00:00+02:00", "--limit", "3"],
    ["solar", "--facet-limit", "0"],
    ["the", "--exact"],
    ["vacine", "--exact"],
    ["zzzzqqq"],
]


@pytest.fixture(scope="module")
def fixed_ids(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The test corpus with an explicit id in every clip: ids derived from paths
    change with the temporary folder, and ties are ordered by id."""
    root = write_corpus(tmp_path_factory.mktemp("golden") / "clips")
    for path in sorted(root.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        if not re.search(r"^(id|webUrl):", text, re.M):
            rel = path.relative_to(root).as_posix()
            path.write_text(text.replace("---\n", f"---\nid: g-{rel}\n", 1), encoding="utf-8")
    index = root.parent / "index"
    assert update_index([root], index).ok
    return root, index


def _outputs(root: Path, index: Path) -> list[str]:
    lines = []
    runner = CliRunner()
    for args in CASES:
        res = runner.invoke(main, ["search", *args, "--json", "--index", str(index)])
        assert res.exit_code == 0, (args, res.output)
        out = res.stdout.rstrip("\n").replace(str(root), "<root>")
        lines.append(json.dumps({"args": args}, ensure_ascii=False) + "\t" + out)
    return lines


def test_search_json_is_byte_identical_to_the_recorded_output(fixed_ids) -> None:
    got = _outputs(*fixed_ids)
    if os.environ.get("CLIPSEARCH_WRITE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text("\n".join(got) + "\n", encoding="utf-8")
    expected = GOLDEN.read_text(encoding="utf-8").splitlines()
    assert len(got) == len(expected) == len(CASES)
    for want, have in zip(expected, got, strict=True):
        assert have == want
