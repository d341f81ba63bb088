"""Shared fixtures: a realistic corpus of news clips written into a temporary folder,
one index built from it per session (for tests that only read), and helpers to write
clip files and build small throwaway indexes.

The corpus is described here as data (`CORPUS`), so tests can compute what a search
must return (matches, facet counts) straight from the data, without the index.
"""

from __future__ import annotations

import os
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from clipsearch import open_index, update_index

FIXTURES = Path(__file__).parent / "fixtures"
#: An unchanged copy of seeds/000_fb1fcb0f9bddfec7.txt.
SEED = FIXTURES / "good" / "000_fb1fcb0f9bddfec7.txt"
SEED_ID = "c-a9af963c4fe2bd85"
SEED_TITLE = "What cities must do to responsibly deploy facial recognition solutions"
#: Hand-written edge-case clips; `broken_date.md` is the one bad file among them.
EDGE_CLIPS = FIXTURES / "clips"


# --------------------------------------------------------------------------- writing clips


def frontmatter(meta: dict[str, Any], raw: Iterable[str] = ()) -> str:
    """YAML frontmatter for `meta`; `raw` lines are appended verbatim (for dates written
    exactly as a clip author would, quoted or not)."""
    text = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    return "---\n" + text + "".join(line + "\n" for line in raw) + "---\n"


def write_clip(
    path: Path,
    *,
    title: str,
    body: str = "",
    date: str | None = None,
    mtime_ns: int | None = None,
    **meta: Any,
) -> Path:
    """Write one clip file.  `date` is the raw YAML text of `publishedDateTime`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = [f"publishedDateTime: {date}"] if date is not None else []
    path.write_text(frontmatter({"title": title, **meta}, raw) + body, encoding="utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


# --------------------------------------------------------------------------- the corpus


@dataclass(frozen=True)
class Spec:
    """One corpus clip as data, and what parsing it must give."""

    name: str
    title: str
    excerpt: str
    provider: str
    domain: str
    topics: tuple[str, ...]
    published: datetime | None
    date_raw: str | None
    quality: Any = None
    quality_int: int | None = None
    body: str = ""
    url: str = ""
    clip_id: str | None = None
    related: tuple[dict[str, Any], ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        rel = " ".join(
            " ".join(str(v) for v in (r.get("title"), r.get("excerpt"), _pname(r)) if v)
            for r in self.related
        )
        return f"{self.title} {self.excerpt} {self.body} {rel}"

    @property
    def words(self) -> set[str]:
        return set(re.findall(r"\w+", self.text.lower()))


def _pname(item: dict[str, Any]) -> str:
    p = item.get("provider")
    return p.get("name", "") if isinstance(p, dict) else (p or "")


PROVIDERS = [
    ("Reuters", "reuters.com"),
    ("BBC News", "bbc.co.uk"),
    ("The National Law Review", "natlawreview.com"),
    ("Seattle Times", "seattletimes.com"),
    ("The New York Times", "nytimes.com"),
    ("Financial Times", "ft.com"),
    ("Wired", "wired.com"),
    ("Nature", "nature.com"),
    ("GCN", "gcn.com"),
]

#: theme marker word (occurs in that theme's clips only), topics, (title, excerpt) pairs.
THEMES: list[tuple[str, tuple[str, ...], list[tuple[str, str]]]] = [
    (
        "vaccine",
        ("Health", "Vaccines"),
        [
            (
                "Vaccine rollout speeds up in rural clinics",
                "Rural clinics report a faster rollout as supply improves.",
            ),
            ("Booster vaccine approved for older adults", "Regulators approved a booster dose."),
            (
                "Vaccine hesitancy falls among nurses",
                "A survey finds hesitancy has fallen sharply.",
            ),
            (
                "Cold chain logistics keep vaccine doses viable",
                "Freezers and couriers keep every dose viable.",
            ),
            ("Nasal vaccine trial begins in Oxford", "Researchers enrolled 300 volunteers."),
            ("City council debates vaccine passports", "Councillors split over proof of vaccine."),
        ],
    ),
    (
        "wildfire",
        ("Climate",),
        [
            ("Wildfire smoke blankets Pacific coast", "Air quality alerts were issued in Oregon."),
            ("Insurers retreat from wildfire zones", "Premiums doubled in three counties."),
            ("Drones map wildfire spread overnight", "Thermal cameras guide the crews."),
            ("Wildfire season starts early in Canada", "Dry spring leaves forests exposed."),
            ("Prescribed burns cut wildfire risk", "Foresters revive an old practice."),
        ],
    ),
    (
        "ballot",
        ("Elections", "Law"),
        [
            ("Mail ballot deadlines extended", "Judges gave counties three more days."),
            ("Ballot design confuses voters again", "The 2000 recount still haunts designers."),
            ("Ranked ballot trial wins praise", "Officials called the pilot a success."),
            ("Courts weigh ballot signature rules", "Lawyers argued over mismatched signatures."),
            ("Ballot counting machines audited", "Hand counts matched the 2000 machine totals."),
        ],
    ),
    (
        "solar",
        ("Energy", "Climate"),
        [
            ("Solar farms rise on former coal land", "Developers lease old mine sites."),
            ("Rooftop solar subsidies cut", "Installers warn of job losses."),
            ("Solar panel prices fall again", "Cheaper modules reach European markets."),
            ("Floating solar arrays tested on reservoirs", "Engineers measure water savings."),
            ("Community solar reaches apartments", "Tenants share one rooftop array."),
        ],
    ),
    (
        "satellite",
        ("Space", "AI"),
        [
            ("Satellite images track deforestation", "Machine learning spots cleared land."),
            ("Startup launches satellite constellation", "Forty small craft reached orbit."),
            ("Satellite data predicts crop yields", "Models beat farm surveys."),
            ("Space agency trains satellite vision models", "Neural networks label clouds."),
        ],
    ),
    (
        "gdpr",
        ("Privacy", "Law"),
        [
            ("Regulator fines retailer under GDPR", "The penalty follows a data breach."),
            ("GDPR complaints rise sharply", "Cookie banners draw most complaints."),
            ("Courts test GDPR limits on cameras", "Doorbell footage at issue."),
            ("GDPR anniversary brings mixed reviews", "Businesses still struggle with consent."),
        ],
    ),
    (
        "robot",
        ("AI", "Computer Vision"),
        [
            (
                "Speech recognition startup raises funds",
                "The robot assistant understands dialects.",
            ),
            ("Facial expressions teach a robot empathy", "A lab robot mirrors human moods."),
            ("Warehouse robot learns to grasp", "Cameras and grippers cooperate."),
            ("Police robot patrols stir debate", "Civil liberties groups object."),
        ],
    ),
]

_FORMATS = ("yaml_z", "quoted_z", "quoted_offset", "yaml_offset", "date_only", "yaml_space")


def _date(i: int) -> tuple[datetime | None, str | None]:
    """A varied publication date for corpus clip `i` and how it is written."""
    if i % 11 == 7:
        return None, None  # undated
    dt = datetime(2021, 1, 4, 6, 0) + timedelta(days=13 * i, hours=(i * 7) % 24, minutes=i % 60)
    fmt = _FORMATS[i % len(_FORMATS)]
    if fmt == "yaml_z":
        return dt, dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "quoted_z":
        return dt, '"' + dt.strftime("%Y-%m-%dT%H:%M:%SZ") + '"'
    if fmt == "quoted_offset":
        return dt, '"' + (dt + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S") + '+02:00"'
    if fmt == "yaml_offset":
        return dt, (dt - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S") + "-05:00"
    if fmt == "date_only":
        day = datetime(dt.year, dt.month, dt.day)
        return day, day.strftime("%Y-%m-%d")
    return dt, dt.strftime("%Y-%m-%d %H:%M:%S")  # a naive YAML timestamp: UTC


def _quality(i: int) -> tuple[Any, int | None]:
    q = (i * 37) % 97
    kind = i % 5
    if kind == 0:
        return q, q
    if kind == 1:
        return str(q), q  # a numeric string
    if kind == 2:
        return q + 0.3, q  # a float, rounded
    if kind == 3:
        return None, None
    return q + 0.7, q + 1


def _build_corpus() -> list[Spec]:
    specs: list[Spec] = []
    i = 0
    for t, (marker, topics, items) in enumerate(THEMES):
        for j, (title, excerpt) in enumerate(items):
            provider, domain = PROVIDERS[(3 * t + j) % len(PROVIDERS)]
            if marker == "vaccine" and j == 2:
                provider = "reuters"  # a case variant: counted with "Reuters"
            extra_topics: tuple[str, ...] = ()
            if marker == "vaccine" and j % 2 == 0:
                extra_topics = ("COVID-19",)
            clip_topics = topics
            if marker == "satellite" and j == 3:
                clip_topics = ("Space", "ai")  # a case variant: counted with "AI"
            if marker == "solar" and j < 2:
                extra_topics = ("NO",)  # Norway, not False
            published, raw = _date(i)
            qraw, qint = _quality(i)
            related: tuple[dict[str, Any], ...] = ()
            if i % 3 == 0:
                related = (
                    {
                        "title": f"Analysis: what the {marker} story means for readers",
                        "excerpt": "Associated Press reporters follow up.",
                        "provider": {"name": "Associated Press", "domain": "apnews.com"},
                        "webUrl": f"https://apnews.com/{marker}/{j}",
                    },
                )
            body = ""
            if i % 4 == 1:
                body = f"## Background\n\nReporters followed the {marker} story for months.\n"
            clip_id = f"na-{marker}-{j:02d}" if i % 6 == 2 else None
            url = "" if i % 6 == 4 else f"https://{domain}/{marker}/{j}"
            specs.append(
                Spec(
                    name=f"{marker}/{j:02d}-{marker}.md",
                    title=title,
                    excerpt=excerpt,
                    provider=provider,
                    domain=domain,
                    topics=clip_topics + extra_topics,
                    published=published,
                    date_raw=raw,
                    quality=qraw,
                    quality_int=qint,
                    body=body,
                    url=url,
                    clip_id=clip_id,
                    related=related,
                )
            )
            i += 1
    # Clips about faces that are NOT the seed: the seed must still come first.
    specs.append(
        Spec(
            name="misc/body-only.md",
            title="Police body cameras get new rules",
            excerpt="The city updated its policy for recorded footage.",
            body="The rules also ban facial recognition on live footage.\n",
            provider="GCN",
            domain="gcn.com",
            topics=("Privacy",),
            published=datetime(2021, 5, 2, 12, 0),
            date_raw="2021-05-02T12:00:00Z",
            quality=50,
            quality_int=50,
            url="https://gcn.com/misc/body-only",
        )
    )
    specs.append(
        Spec(
            name="misc/no-provider.md",
            title="Letters to the editor",
            excerpt="Readers write about parking and potholes.",
            provider="",
            domain="",
            topics=(),
            published=datetime(2022, 2, 2),
            date_raw="2022-02-02",
            url="",
        )
    )
    return specs


def _seed_spec() -> Spec:
    """What the seed holds, read with plain PyYAML (independently of clipsearch)."""
    meta = yaml.safe_load(SEED.read_text(encoding="utf-8").split("---")[1])
    return Spec(
        name=SEED.name,
        title=meta["title"],
        excerpt=meta["excerpt"],
        provider=meta["provider"]["name"],
        domain=meta["provider"]["domain"],
        topics=tuple(meta["topics"]),
        published=datetime(2021, 4, 29, 20, 46),
        date_raw="2021-04-29T20:46:00Z",
        quality=meta["quality"],
        quality_int=meta["quality"],
        url=meta["webUrl"],
        clip_id=SEED_ID,
        related=tuple(meta["related"]),
    )


CORPUS: list[Spec] = _build_corpus()
SEED_SPEC = _seed_spec()
#: Every clip in the built corpus folder: the generated ones and the seed.
ALL_SPECS: list[Spec] = [*CORPUS, SEED_SPEC]


def write_spec(root: Path, spec: Spec) -> Path:
    meta: dict[str, Any] = {}
    if spec.clip_id and spec is not SEED_SPEC:
        meta["id"] = spec.clip_id
    meta["excerpt"] = spec.excerpt
    if spec.url:
        meta["webUrl"] = spec.url
    if spec.provider:
        meta["provider"] = {"name": spec.provider, "domain": spec.domain}
    if spec.topics:
        meta["topics"] = list(spec.topics)
    if spec.quality is not None:
        meta["quality"] = spec.quality
    if spec.related:
        meta["related"] = [dict(r) for r in spec.related]
    meta["type"] = "article"
    return write_clip(
        root / spec.name, title=spec.title, body=spec.body, date=spec.date_raw, **meta
    )


def write_corpus(root: Path) -> Path:
    for spec in CORPUS:
        write_spec(root, spec)
    shutil.copy2(SEED, root / SEED.name)
    return root


# --------------------------------------------------------------------------- brute force


def brute_facets(specs: Iterable[Spec]) -> dict[str, Counter[str]]:
    """Facet counts straight from the data, values case-folded."""
    topics: Counter[str] = Counter()
    providers: Counter[str] = Counter()
    for s in specs:
        topics.update({t.casefold() for t in s.topics})
        if s.provider:
            providers[s.provider.casefold()] += 1
    return {"topic": topics, "provider": providers}


def folded(counts: dict[str, int]) -> Counter[str]:
    """Facet counts as the index reports them, keyed by case-folded value, zeros dropped.
    The empty provider of clips without one is dropped too: a known bug, tested on its
    own in test_search.py (test_clips_without_provider_are_not_a_provider_value)."""
    return Counter({k.casefold(): v for k, v in counts.items() if v and k})


def specs_with_word(word: str, specs: Iterable[Spec] = ALL_SPECS) -> list[Spec]:
    return [s for s in specs if word.lower() in s.words]


# --------------------------------------------------------------------------- fixtures


@dataclass(frozen=True)
class Corpus:
    root: Path
    index: Path
    specs: list[Spec]


@pytest.fixture(scope="session", autouse=True)
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterable[Path]:
    """The language model's cache (language.py) in this session's folder, never the
    user's (child processes inherit it)."""
    folder = tmp_path_factory.mktemp("model-cache")
    before = os.environ.get("CLIPSEARCH_CACHE")
    os.environ["CLIPSEARCH_CACHE"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("CLIPSEARCH_CACHE", None)
    else:
        os.environ["CLIPSEARCH_CACHE"] = before


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """The fixture corpus, indexed once per session.  Tests must not write to it."""
    base = tmp_path_factory.mktemp("corpus")
    root = write_corpus(base / "clips")
    report = update_index([root], base / "index")
    assert report.ok, report.skipped
    assert report.added == len(ALL_SPECS)
    return Corpus(root, base / "index", ALL_SPECS)


@pytest.fixture(scope="session")
def idx(corpus: Corpus):
    """The session's corpus index, opened once (read only)."""
    with open_index(corpus.index) as opened:
        yield opened


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    """The fixture corpus indexed into this test's own folder (it may write to it);
    returns (clip folder, index folder)."""
    root = write_corpus(tmp_path / "clips")
    index = tmp_path / "index"
    assert update_index([root], index).ok
    return root, index


@pytest.fixture
def make_index(tmp_path: Path) -> Callable[..., tuple[Path, Path]]:
    """Write clips (name -> write_clip keyword arguments) and index them; returns
    (clip folder, index folder)."""

    def make(clips: dict[str, dict[str, Any]], name: str = "clips") -> tuple[Path, Path]:
        root = tmp_path / name
        for rel, kwargs in clips.items():
            write_clip(root / rel, **kwargs)
        report = update_index([root], tmp_path / "index")
        assert report.ok, report.skipped
        return root, tmp_path / "index"

    return make
