"""Searching: from a request to a result, on any backend.

    request.py      SearchRequest: one validated description of a search
    result.py       Hit, SearchResult, FacetCounts: the result and its JSON contract
    backend.py      Backend: what the engine needs from an index (the seam)
    engine.py       ClipIndex: runs requests (filters, scoring, hits, facets)
    corrections.py  typo corrections and "Did you mean"
    fuzzy.py        typo candidates from the vocabulary (rapidfuzz, bucketed)
    ranking.py      tiered ranking and paging
    expansion.py    RM3 query expansion of long queries (--expand)
    facets.py       fuzzy facet values, top counts, disjunctive counts
    highlight.py    snippets with the query's words marked
    stories.py      copies of one story shown once, their reach, counts of stories
"""
