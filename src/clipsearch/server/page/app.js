// clipsearch page: vanilla JS, no build step.  Clip text is untrusted: every field is
// put in the DOM with textContent or createTextNode, never as HTML; highlights are
// split on the API's literal <mark>/</mark> tags.  The URL holds the whole state.
"use strict";

(function () {
  const PAGE_SIZE = 10;
  const FACET_LIMIT = 50;
  const DEBOUNCE_MS = 250;
  const FIELDS = { topic: "topic", provider: "provider" };
  const $ = (id) => document.getElementById(id);

  let state = readState();
  let seq = 0;          // newest request wins: older responses are dropped
  let typing = false;   // consecutive keystrokes replace one history entry
  let timer = null;
  let pending = false;  // keystrokes not yet searched: the box is ahead of the state
  let lastFacets = { topic: [], provider: [] };

  // ---------------------------------------------------------------- state and URL
  function readState() {
    const p = new URLSearchParams(location.search);
    return {
      q: p.get("q") || "",
      topic: p.getAll("topic"),
      provider: p.getAll("provider"),
      since: p.get("since") || "",
      until: p.get("until") || "",
      sort: p.get("sort") || "relevance",
      offset: Math.max(0, parseInt(p.get("offset") || "0", 10) || 0),
      exact: p.get("exact") === "1",
      clip: p.get("clip") || "",
      token: p.get("token") || "",
    };
  }

  function searchParams(s) {
    const p = new URLSearchParams();
    if (s.q) p.set("q", s.q);
    s.topic.forEach((v) => p.append("topic", v));
    s.provider.forEach((v) => p.append("provider", v));
    if (s.since) p.set("since", s.since);
    if (s.until) p.set("until", s.until);
    if (s.sort && s.sort !== "relevance") p.set("sort", s.sort);
    if (s.offset) p.set("offset", String(s.offset));
    if (s.exact) p.set("exact", "1");
    return p;
  }

  function pageUrl(s) {
    const p = searchParams(s);
    if (s.clip) p.set("clip", s.clip);
    if (s.token) p.set("token", s.token);
    const qs = p.toString();
    return "/" + (qs ? "?" + qs : "");
  }

  function navigate(changes, replace) {
    state = Object.assign({}, state, changes);
    const url = pageUrl(state);
    if (replace) history.replaceState(null, "", url);
    else history.pushState({ fromApp: true }, "", url);  // Back can use history
    render();
  }

  // ---------------------------------------------------------------- API
  async function api(path, params) {
    const qs = params ? params.toString() : "";
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    const res = await fetch(path + (qs ? "?" + qs : ""), { headers: headers });
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) {
      const err = new Error((body && body.error) || "HTTP " + res.status);
      err.status = res.status;
      err.parameter = body && body.parameter;
      throw err;
    }
    return body;
  }

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) for (const k of Object.keys(attrs)) node.setAttribute(k, attrs[k]);
    (children || []).forEach((c) => node.append(typeof c === "string" ? document.createTextNode(c) : c));
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  // "a <mark>b</mark> c" -> text, <mark>text</mark>, text; nothing is parsed as HTML.
  function marked(text) {
    const frag = document.createDocumentFragment();
    let inMark = false;
    for (const part of String(text).split(/(<mark>|<\/mark>)/)) {
      if (part === "<mark>") { inMark = true; continue; }
      if (part === "</mark>") { inMark = false; continue; }
      if (!part) continue;
      if (inMark) { const m = document.createElement("mark"); m.textContent = part; frag.append(m); }
      else frag.append(document.createTextNode(part));
    }
    return frag;
  }

  function safeHref(url) {
    try {
      const u = new URL(url);
      return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
    } catch (e) { return null; }
  }

  function showError(err) {
    const box = $("error");
    box.textContent = err ? (err.parameter ? err.parameter + ": " : "") + err.message : "";
    box.hidden = !err;
  }

  function internalLink(s, text) {
    const a = el("a", { href: pageUrl(s) }, [text]);
    a.addEventListener("click", (ev) => {
      if (ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
      ev.preventDefault();
      navigate(s, false);
    });
    return a;
  }

  function dateOnly(iso) { return iso ? iso.slice(0, 10) : "undated"; }

  // ---------------------------------------------------------------- rendering
  function render() {
    syncForm();
    typing = false;
    document.body.classList.toggle("clip-open", !!state.clip);
    if (state.clip) { showClip(); return; }
    $("clip-view").hidden = true;
    $("results-view").hidden = false;
    $("facets").hidden = false;
    runSearch();
  }

  function syncForm() {
    if (!pending) $("q").value = state.q;
    $("since").value = state.since;
    $("until").value = state.until;
    $("sort").value = state.sort;
  }

  async function runSearch() {
    const mine = ++seq;
    const p = searchParams(state);
    p.set("limit", String(PAGE_SIZE));
    p.set("facet_limit", String(FACET_LIMIT));
    const hp = searchParams(state);
    hp.delete("offset");
    hp.delete("sort");
    hp.set("interval", "month");
    try {
      const [res, hist] = await Promise.all([api("/api/search", p), api("/api/histogram", hp)]);
      if (mine !== seq) return;
      showError(null);
      drawResults(res);
      drawChart(hist);
    } catch (err) {
      if (mine !== seq) return;
      showError(err);
    }
  }

  function drawResults(res) {
    const notice = $("notice");
    clear(notice);
    const pairs = Object.entries(res.corrections || {});
    notice.hidden = pairs.length === 0;
    if (pairs.length) {
      notice.append("Showing results for corrected words (" +
        pairs.map(([a, b]) => a + " \u2192 " + b).join(", ") + "). ");
      notice.append(internalLink(Object.assign({}, state, { exact: true, offset: 0 }),
        "Search for the exact words instead"));
    }
    const dym = $("did-you-mean");
    clear(dym);
    dym.hidden = !res.suggestion;
    if (res.suggestion) {
      dym.append("Did you mean: ");
      const link = internalLink(Object.assign({}, state, { q: res.suggestion, offset: 0, exact: false }),
        res.suggestion);
      link.id = "suggestion";
      dym.append(link, "?");
    }
    const shown = res.hits.length;
    const which = res.match_fallback ?
      (res.all_words_total ? " (only " + res.all_words_total.toLocaleString() +
        (res.all_words_total === 1 ? " clip has" : " clips have") + " all the words: clips with any of them)" :
        " (no clip has all the words: clips with any of them)") :
      res.match === "any" ? " with any of the words" : "";
    $("summary").textContent = res.total === 0 ? "No clips found." :
      res.total.toLocaleString() + " clip" + (res.total === 1 ? "" : "s") + which +
      (shown ? ", showing " + (res.offset + 1) + "\u2013" + (res.offset + shown) : "");

    const list = $("hits");
    clear(list);
    for (const hit of res.hits) {
      const h = hit.highlights || {};
      const title = el("h3");
      const link = internalLink(Object.assign({}, state, { clip: hit.id }), "");
      link.append(marked(h.title || hit.title || "(untitled)"));
      link.className = "hit-link";
      title.append(link);
      const meta = el("p", { class: "meta" },
        [[hit.provider, dateOnly(hit.published), (hit.topics || []).join(", ")].filter(Boolean).join(" \u00b7 ")]);
      const snippet = el("p", { class: "snippet" });
      const text = h.excerpt || h.body || h.related;
      snippet.append(text ? marked(text) : document.createTextNode(hit.excerpt || ""));
      list.append(el("li", { class: "hit", "data-id": hit.id }, [title, meta, snippet]));
    }
    drawFacets(res);
    drawPager(res);
  }

  function drawFacets(res) {
    for (const section of document.querySelectorAll(".facet")) {
      const field = section.dataset.field;
      const counts = (res.facets || {})[field] || {};
      lastFacets[field] = Object.entries(counts);
      const more = (res.facets_more || {})[field] || 0;
      section.querySelector(".facet-more").textContent = more ? "+" + more + " more values" : "";
      fillFacet(section);
    }
  }

  // Fuzzy: every letter of the filter, in order (case-insensitive), so "ntl rev" finds
  // "The National Law Review".
  function fuzzy(needle, hay) {
    const n = needle.toLowerCase().replace(/\s+/g, "");
    const h = hay.toLowerCase();
    let i = 0;
    for (let j = 0; j < h.length && i < n.length; j++) if (h[j] === n[i]) i++;
    return i === n.length;
  }

  function fillFacet(section) {
    const field = section.dataset.field;
    const filter = section.querySelector(".facet-filter").value;
    const chosen = state[FIELDS[field]].map((v) => v.toLowerCase());
    const ul = section.querySelector(".facet-values");
    clear(ul);
    for (const [value, count] of lastFacets[field]) {
      const isChosen = chosen.includes(value.toLowerCase());
      if (filter && !isChosen && !fuzzy(filter, value)) continue;
      const box = el("input", { type: "checkbox", value: value });
      box.checked = isChosen;
      box.addEventListener("change", () => toggleFacet(field, value, box.checked));
      const label = el("label", {}, [box, el("span", { class: "value" }, [value || "(none)"]),
        el("span", { class: "count" }, [count.toLocaleString()])]);
      ul.append(el("li", {}, [label]));
    }
  }

  function toggleFacet(field, value, on) {
    const key = FIELDS[field];
    const rest = state[key].filter((v) => v.toLowerCase() !== value.toLowerCase());
    navigate({ [key]: on ? rest.concat([value]) : rest, offset: 0 }, false);
  }

  function drawPager(res) {
    const nav = $("pager");
    clear(nav);
    if (res.total <= PAGE_SIZE) return;
    const page = Math.floor(res.offset / PAGE_SIZE) + 1;
    const pages = Math.ceil(res.total / PAGE_SIZE);
    const prev = el("button", { type: "button", id: "prev" }, ["\u2190 Previous"]);
    prev.disabled = page <= 1;
    prev.addEventListener("click", () => navigate({ offset: Math.max(0, res.offset - PAGE_SIZE) }));
    const next = el("button", { type: "button", id: "next" }, ["Next \u2192"]);
    next.disabled = page >= pages;
    next.addEventListener("click", () => navigate({ offset: res.offset + PAGE_SIZE }));
    nav.append(prev, el("span", {}, ["Page " + page + " of " + pages]), next);
  }

  function drawChart(hist) {
    const svg = $("chart");
    const NS = "http://www.w3.org/2000/svg";
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const buckets = hist.buckets || [];
    const caption = $("chart-caption");
    if (!buckets.length) {
      caption.textContent = hist.undated ? hist.undated + " undated matches" : "";
      svg.setAttribute("viewBox", "0 0 1 1");
      return;
    }
    const max = Math.max(1, ...buckets.map((b) => b.count));
    const w = 10;
    svg.setAttribute("viewBox", "0 0 " + buckets.length * w + " 100");
    svg.setAttribute("preserveAspectRatio", "none");
    buckets.forEach((b, i) => {
      const h = b.count ? Math.max(2, (b.count / max) * 100) : 0;
      const rect = document.createElementNS(NS, "rect");
      rect.setAttribute("class", "bar");
      rect.setAttribute("x", String(i * w + 1));
      rect.setAttribute("y", String(100 - h));
      rect.setAttribute("width", String(w - 2));
      rect.setAttribute("height", String(h));
      const tip = document.createElementNS(NS, "title");
      tip.textContent = b.start.slice(0, 7) + ": " + b.count;
      rect.append(tip);
      svg.append(rect);
    });
    caption.textContent = "Matches per month, " + buckets[0].start.slice(0, 7) + " to " +
      buckets[buckets.length - 1].start.slice(0, 7) +
      (hist.undated ? " (" + hist.undated + " undated)" : "");
  }

  async function showClip() {
    const mine = ++seq;
    $("results-view").hidden = true;
    $("facets").hidden = true;
    const view = $("clip-view");
    view.hidden = false;
    try {
      const clip = await api("/api/clips/" + encodeURIComponent(state.clip));
      if (mine !== seq) return;
      showError(null);
      drawClip(clip);
    } catch (err) {
      if (mine !== seq) return;
      $("clip-title").textContent = err.status === 404 ? "No such clip" : "Could not load the clip";
      for (const id of ["clip-meta", "clip-topics", "clip-excerpt", "clip-body", "clip-link", "clip-related"])
        clear($(id));
      $("clip-related-box").hidden = true;
    }
    $("back").focus();
  }

  function drawClip(clip) {
    $("clip-title").textContent = clip.title || "(untitled)";
    $("clip-meta").textContent = [clip.provider, clip.domain, dateOnly(clip.published)]
      .filter(Boolean).join(" \u00b7 ");
    $("clip-topics").textContent = (clip.topics || []).length ? "Topics: " + clip.topics.join(", ") : "";
    $("clip-excerpt").textContent = clip.excerpt || "";
    $("clip-body").textContent = clip.body || "";
    const link = $("clip-link");
    clear(link);
    const href = clip.url ? safeHref(clip.url) : null;
    if (href) {
      link.append(el("a", { href: href, rel: "noopener noreferrer", target: "_blank", id: "original" },
        ["Read the original"]));
    } else if (clip.url) {
      link.textContent = "Original: " + clip.url;
    }
    const rel = $("clip-related");
    clear(rel);
    const items = String(clip.related || "").split("\n").filter((s) => s.trim());
    items.forEach((line) => rel.append(el("li", {}, [line])));
    $("clip-related-box").hidden = items.length === 0;
  }

  // ---------------------------------------------------------------- events
  function schedule(replace) {
    clearTimeout(timer);
    pending = true;
    timer = setTimeout(() => {
      pending = false;
      const q = $("q").value;
      if (q === state.q) return;
      const wasTyping = typing;
      navigate({ q: q, offset: 0, exact: false, clip: "" }, replace && wasTyping);
      typing = true;
    }, DEBOUNCE_MS);
  }

  function init() {
    $("q").addEventListener("input", () => schedule(true));
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      clearTimeout(timer);
      pending = false;
      navigate({ q: $("q").value, offset: 0, exact: false, clip: "" }, false);
    });
    $("since").addEventListener("change", () => navigate({ since: $("since").value, offset: 0 }));
    $("until").addEventListener("change", () => navigate({ until: $("until").value, offset: 0 }));
    $("sort").addEventListener("change", () => navigate({ sort: $("sort").value, offset: 0 }));
    for (const section of document.querySelectorAll(".facet")) {
      section.querySelector(".facet-filter").addEventListener("input", () => fillFacet(section));
    }
    $("home").addEventListener("click", (ev) => {
      ev.preventDefault();
      navigate({ q: "", topic: [], provider: [], since: "", until: "", sort: "relevance",
        offset: 0, exact: false, clip: "" });
    });
    $("back").addEventListener("click", (ev) => {
      ev.preventDefault();
      goBack();
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "/" && document.activeElement !== $("q") &&
          !(document.activeElement instanceof HTMLInputElement)) {
        ev.preventDefault();
        $("q").focus();
      } else if (ev.key === "Escape" && state.clip) {
        goBack();
      }
    });
    window.addEventListener("popstate", () => { state = readState(); render(); });
    history.replaceState({ app: true }, "", pageUrl(state));
    render();
  }

  function goBack() {
    if (history.state && history.state.fromApp) history.back();
    else navigate({ clip: "" });
  }

  init();
})();
