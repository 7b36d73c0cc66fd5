"""Score our extractor and trafilatura's defaults against the offline ground truth.

    python bench/extraction_eval.py                 # full run, writes docs/extraction.md
    python bench/extraction_eval.py --fast          # fixed small subset (what CI checks)
    python bench/extraction_eval.py --write-floors  # also measure the fast subset, write floors
    python bench/extraction_eval.py --split dev     # half of every dataset (held: the other half)

Datasets (under <repo>/../shared/corpus unless --corpus): fundus, andythefactory,
trafilatura-eval, mediacloud gv. "Defaults" means `trafilatura.bare_extraction(html, url=url,
with_metadata=True)` with every other option at its default; its text is body + comments,
which is what `trafilatura.extract()` returns by default.

Metrics:
- body P/R/F1: bag-of-words overlap of lower-cased `\\w+` tokens between extracted and true
  text (the article-extraction-benchmark definition), averaged over pages. For
  trafilatura-eval there is no full text: a `with` snippet found is a TP, missing an FN; a
  `without` snippet found is an FP (upstream scoring), pooled over the dataset.
- title: exact match after whitespace normalisation; date: same calendar day (in the page's
  own offset); authors: set F1 of case-folded names, on pages whose truth lists authors;
  language: ISO 639-1 equality where the truth is known; empty: share of pages whose body has
  fewer than 100 characters.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import re
import sys
import time
import zlib
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CORPUS = REPO.parent / "shared" / "corpus"
FLOORS_FILE = REPO / "bench" / "extraction_floors.json"
DOC_FILE = REPO / "docs" / "extraction.md"
DATASETS = ("fundus", "andythefactory", "trafilatura-eval", "mediacloud-gv")
EMPTY_CHARS = 100  # characters, not words: Chinese/Japanese text has no spaces
# How many pages of each dataset the fast subset takes (every k-th page of the sorted list).
FAST_SIZES = {"fundus": 16, "andythefactory": 10, "trafilatura-eval": 12, "mediacloud-gv": 4}
# Floors are written this far below the measured fast-subset value.
FLOOR_MARGIN = 0.03

# fundus gives no language: the country folder's language, except publishers writing another one.
_FUNDUS_COUNTRY_LANG = {
    "at": "de", "au": "en", "be": "nl", "ca": "en", "ch": "de", "cn": "zh", "cz": "cs", "de": "de",
    "dk": "da", "es": "es", "fr": "fr", "gl": "da", "id": "id", "il": "de", "ind": "hi", "isl": "is",
    "it": "it", "jp": "ja", "kr": "ko", "lb": "ar", "li": "de", "ls": "en", "lt": "lt", "lu": "de",
    "mx": "en", "my": "en", "na": "en", "no": "no", "pl": "pl", "pt": "en", "py": "de", "ru": "ru",
    "se": "sv", "tr": "tr", "tw": "en", "tz": "en", "ua": "ru", "uk": "en", "us": "en", "vn": "vi",
    "za": "en",
}
_FUNDUS_PUBLISHER_LANG = {
    "PoliticoEu": "en", "MallorcaMagazin": "de", "MallorcaZeitung": "de", "TimesOfIndia": "en",
    "Tageszeitung": "de", "TheJapanNews": "en", "HabariLeo": "sw", "Dizindaba": "xh",
    "EyethuNews": "zu", "Ilanga": "zu", "Isolezwe": "zu", "IsolezweLesiXhosa": "xh",
}


# ----------------------------------------------------------------------------- corpus loading

def load_pages(corpus: Path) -> list[dict]:
    """All evaluable pages: {dataset, id, path, url, language, truth}, in a stable order."""
    pages = _fundus(corpus) + _andy(corpus) + _trafilatura_eval(corpus) + _gv(corpus)
    return pages


def fast_subset(pages: list[dict]) -> list[dict]:
    """A fixed, deterministic spread of pages per dataset (every k-th of the sorted list)."""
    out = []
    for dataset, size in FAST_SIZES.items():
        items = [p for p in pages if p["dataset"] == dataset]
        step = max(1, len(items) // size)
        out += items[::step][:size]
    return out


def split_half(pages: list[dict], half: str) -> list[dict]:
    """The development ("dev") or held-out ("held") half of every dataset, fixed by page id.

    Changes to the extractor are developed looking at one half and confirmed on the other,
    so that a rule fitted to a few pages shows up as a gain on one half only."""
    wanted = 0 if half == "dev" else 1
    return [p for p in pages if zlib.crc32(p["id"].encode()) % 2 == wanted]


def _fundus(corpus: Path) -> list[dict]:
    root = corpus / "fundus"
    index = json.loads((root / "index.json").read_text())
    pages = []
    for rel, entry in sorted(index.items()):
        gt = json.loads((root / entry["ground_truth_file"]).read_text())[entry["ground_truth_key"]]
        body = gt.get("body") or {}
        parts = list(body.get("summary") or [])
        for section in body.get("sections") or []:
            parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
        pages.append({
            "dataset": "fundus", "id": rel, "path": str(root / rel), "url": entry["url"],
            "language": _FUNDUS_PUBLISHER_LANG.get(entry["publisher"], _FUNDUS_COUNTRY_LANG.get(entry["country"])),
            "truth": {"title": gt.get("title"), "text": "\n".join(parts), "authors": gt.get("authors"),
                      "date": gt.get("publishing_date") or None},
        })
    return pages


def _andy(corpus: Path) -> list[dict]:
    root = corpus / "andythefactory-article-extraction-dataset"
    truth = json.loads((root / "articles.json").read_text())
    pages = []
    for key in sorted(truth):
        path = root / "html" / f"{key}.html.gz"
        if not path.exists():  # three ids have no stored HTML (see the folder README)
            continue
        rec = truth[key]
        date = rec.get("date") if re.match(r"\d{4}-\d\d-\d\d", rec.get("date") or "") else None
        pages.append({
            "dataset": "andythefactory", "id": key, "path": str(path), "url": rec["url"], "language": "en",
            "truth": {"title": rec.get("title"), "text": rec.get("articleBody") or "",
                      "authors": _split_names(rec.get("authors")), "date": date},
        })
    return pages


def _trafilatura_eval(corpus: Path) -> list[dict]:
    root = corpus / "trafilatura-eval"
    data = json.loads((root / "evaldata.json").read_text())
    pages = []
    for key in sorted(data):
        rec = data[key]
        path = root / "cache" / f"{rec['file']}.gz"
        if not path.exists():
            path = root / "eval" / f"{rec['file']}.gz"
        if not path.exists():
            continue
        author = rec.get("author")
        pages.append({
            "dataset": "trafilatura-eval", "id": rec["file"], "path": str(path),
            "url": None if key.startswith("hard::") else key, "language": None,
            "truth": {"with": rec.get("with") or [], "without": rec.get("without") or [],
                      "title": rec.get("title") or None,
                      "authors": (author if isinstance(author, list) else _split_names(author)) or None,
                      "date": rec.get("date") or None},
        })
    return pages


def _gv(corpus: Path) -> list[dict]:
    root = corpus / "mediacloud-crawler-fixtures"
    pages = []
    for story_file in sorted((root / "crawler_stories" / "gv").glob("*.json"), key=lambda p: int(p.stem)):
        story = json.loads(story_file.read_text())
        name = story["url"].rsplit("/", 1)[-1]
        if not name.startswith("index_"):  # the homepage story is not an article
            continue
        # extracted_text is "title *** body *** title+body again": keep the body once.
        parts = (story.get("extracted_text") or "").split("***")
        text = parts[1] if len(parts) > 1 else parts[0]
        pages.append({
            "dataset": "mediacloud-gv", "id": name, "path": str(root / "crawler" / "gv" / name),
            "url": f"http://globalvoicesonline.org/gv/{name}", "language": story.get("language"),
            "truth": {"title": story.get("title"), "text": text, "authors": None,
                      # publish_date is the feed's time in Europe/Vilnius; compare in that zone.
                      "date": (story.get("publish_date") or "")[:10] or None, "tz": story.get("timezone")},
        })
    return pages


def _split_names(value: str | None) -> list[str]:
    if not value:
        return []
    return [n.strip() for n in re.split(r";|,|\s+(?:and|und|&)\s+", value) if n.strip()]


def read_html(path: str) -> bytes:
    data = Path(path).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


# ----------------------------------------------------------------------------- extractors

def run_ours(html: bytes, url: str | None) -> dict:
    from scraper.extraction.article import extract_article

    return extract_article(html, url or "")


def run_defaults(html: bytes, url: str | None) -> dict:
    import trafilatura

    doc = trafilatura.bare_extraction(html, url=url, with_metadata=True)
    meta = doc.as_dict() if doc is not None else {}
    text = "\n".join(t for t in (meta.get("text"), meta.get("comments")) if t)
    return {"title": meta.get("title"), "text": text, "published": meta.get("date"),
            "authors": _split_names(meta.get("author")), "language": meta.get("language")}


# ----------------------------------------------------------------------------- scoring

_TOKEN = re.compile(r"\w+")


def tokens(text: str | None) -> Counter:
    return Counter(_TOKEN.findall((text or "").lower()))


def body_prf(pred: str, true: str) -> tuple[float, float, float]:
    p_tok, t_tok = tokens(pred), tokens(true)
    overlap = sum((p_tok & t_tok).values())
    n_pred, n_true = sum(p_tok.values()), sum(t_tok.values())
    precision = overlap / n_pred if n_pred else (1.0 if not n_true else 0.0)
    recall = overlap / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _same_day(pred: str | None, true: str, tz: str | None) -> bool:
    """Same calendar day, where the truth says whose day: a predicted instant is read in the
    truth's zone (mediacloud's `timezone`) or offset (fundus's timestamps, many in UTC);
    otherwise (a bare day) in the offset the prediction is written in."""
    if not pred:
        return False
    day = pred[:10]
    zone = _truth_zone(true, tz)
    if zone is not None and len(pred) > 10:
        try:
            moment = datetime.fromisoformat(pred.replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is not None and moment.tzinfo is not None:
            day = moment.astimezone(zone).date().isoformat()
    return day == true[:10]


def _truth_zone(true: str, tz: str | None):
    if tz:
        from zoneinfo import ZoneInfo

        return ZoneInfo(tz)
    try:
        return datetime.fromisoformat(true.replace("Z", "+00:00")).tzinfo if len(true) > 10 else None
    except ValueError:
        return None


def _authors_f1(pred: list[str], true: list[str]) -> float:
    p = {_norm(a).casefold() for a in pred if a}
    t = {_norm(a).casefold() for a in true if a}
    hit = len(p & t)
    if not hit:
        return 0.0
    precision, recall = hit / len(p), hit / len(t)
    return 2 * precision * recall / (precision + recall)


def score_page(page: dict, out: dict) -> dict:
    """Per-page raw scores; None where the truth does not cover the metric."""
    truth = page["truth"]
    text = out.get("text") or ""
    s: dict = {"empty": float(len(" ".join(text.split())) < EMPTY_CHARS)}
    if "with" in truth:  # snippet scoring (trafilatura-eval)
        norm_text = _norm(text)
        s["tp"] = sum(_norm(x) in norm_text for x in truth["with"])
        s["fn"] = len(truth["with"]) - s["tp"]
        s["fp"] = sum(_norm(x) in norm_text for x in truth["without"])
        s["tn"] = len(truth["without"]) - s["fp"]
    else:
        s["body_p"], s["body_r"], s["body_f1"] = body_prf(text, truth["text"])
    s["title"] = float(_norm(out.get("title")) == _norm(truth["title"])) if truth.get("title") else None
    s["date"] = float(_same_day(out.get("published"), truth["date"], truth.get("tz"))) if truth.get("date") else None
    s["authors"] = _authors_f1(out.get("authors") or [], truth["authors"]) if truth.get("authors") else None
    s["language"] = float(out.get("language") == page["language"]) if page.get("language") else None
    return s


def _evaluate_one(page: dict) -> dict:
    import trafilatura

    html = read_html(page["path"])
    result = {"dataset": page["dataset"], "id": page["id"], "language": page.get("language")}
    for name, fn in (("ours", run_ours), ("defaults", run_defaults)):
        calls_before = _CALLS[0]
        start = time.perf_counter()
        try:
            out = fn(html, page["url"])
        except Exception as exc:  # noqa: BLE001 - a crash is scored as an empty extraction
            out = {"text": "", "error": repr(exc)}
        result[name] = score_page(page, out)
        result[name]["seconds"] = time.perf_counter() - start
        result[name]["traf_calls"] = _CALLS[0] - calls_before
    _maybe_reset(trafilatura)
    return result


# Count trafilatura passes per page (the budget is at most two per page on average).
_CALLS = [0]
_PAGES_SEEN = [0]


def _count_calls() -> None:
    """Count every body pass: trafilatura's whole cascade (bare_extraction, which the defaults
    and our recall pass call) and our own precision pass (scraper.extraction.body)."""
    import trafilatura

    from scraper.extraction import article

    for owner, name in ((trafilatura, "bare_extraction"), (article, "precise_body")):
        original = getattr(owner, name)
        if getattr(original, "_counted", False):
            continue
        setattr(owner, name, _counting(original))


def _counting(function):
    def counted(*args, **kwargs):
        _CALLS[0] += 1
        return function(*args, **kwargs)

    counted._counted = True
    return counted


def _maybe_reset(trafilatura) -> None:
    from trafilatura.meta import reset_caches

    _PAGES_SEEN[0] += 1
    if _PAGES_SEEN[0] % 200 == 0:
        reset_caches()


def evaluate(pages: list[dict], workers: int = 2) -> list[dict]:
    _count_calls()
    if workers <= 1:
        return [_evaluate_one(p) for p in pages]
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(workers, initializer=_count_calls) as pool:
        return pool.map(_evaluate_one, pages, chunksize=4)


def aggregate(results: list[dict], key: str) -> dict:
    """Summary metrics for one system ('ours' or 'defaults') over a list of page results."""
    rows = [r[key] for r in results]
    agg: dict = {"pages": len(rows)}
    if rows and "tp" in rows[0]:
        tp, fn, fp = (sum(r[k] for r in rows) for k in ("tp", "fn", "fp"))
        agg["body_p"] = tp / (tp + fp) if tp + fp else 0.0
        agg["body_r"] = tp / (tp + fn) if tp + fn else 0.0
    else:
        for metric in ("body_p", "body_r"):
            vals = [r[metric] for r in rows if r.get(metric) is not None]
            agg[metric] = sum(vals) / len(vals) if vals else None
    if rows and "tp" in rows[0]:
        p, r_ = agg["body_p"], agg["body_r"]
        agg["body_f1"] = 2 * p * r_ / (p + r_) if p + r_ else 0.0
    else:
        vals = [r["body_f1"] for r in rows if r.get("body_f1") is not None]
        agg["body_f1"] = sum(vals) / len(vals) if vals else None
    for metric in ("title", "date", "authors", "language", "empty"):
        vals = [r[metric] for r in rows if r.get(metric) is not None]
        agg[metric] = sum(vals) / len(vals) if vals else None
        agg[f"{metric}_n"] = len(vals)
    seconds = sum(r["seconds"] for r in rows)
    agg["pages_per_s"] = len(rows) / seconds if seconds else None
    agg["traf_calls"] = sum(r["traf_calls"] for r in rows) / len(rows) if rows else None
    return agg


METRICS = ("body_p", "body_r", "body_f1", "title", "date", "authors", "language", "empty")
HIGHER_IS_BETTER = {m: m != "empty" for m in METRICS}


def summarise(results: list[dict]) -> dict:
    by_dataset = defaultdict(list)
    by_language = defaultdict(list)
    for r in results:
        by_dataset[r["dataset"]].append(r)
        if r.get("language"):
            by_language[r["language"]].append(r)
    return {
        "datasets": {d: {s: aggregate(rs, s) for s in ("ours", "defaults")} for d, rs in by_dataset.items()},
        "languages": {lang: {s: aggregate(rs, s) for s in ("ours", "defaults")}
                      for lang, rs in sorted(by_language.items(), key=lambda kv: -len(kv[1]))},
        "all": {s: aggregate([r for r in results if "tp" not in r[s]], s) for s in ("ours", "defaults")},
    }


# ----------------------------------------------------------------------------- reporting

def _fmt(value, pct=True) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f}" if pct else f"{value:.1f}"


def table(summary: dict, group: str = "datasets") -> str:
    head = ("| " + ("dataset" if group == "datasets" else "language") + " | pages | system | body P | body R | body F1 "
            "| title | date | authors | language | empty | pages/s | traf passes |")
    lines = [head, "|" + " --- |" * 13]
    for name, systems in summary[group].items():
        for system in ("ours", "defaults"):
            a = systems[system]
            lines.append("| " + " | ".join([
                name, str(a["pages"]), system, _fmt(a["body_p"]), _fmt(a["body_r"]), _fmt(a["body_f1"]),
                _fmt(a["title"]), _fmt(a["date"]), _fmt(a["authors"]), _fmt(a["language"]), _fmt(a["empty"]),
                _fmt(a["pages_per_s"], pct=False), f"{a['traf_calls']:.2f}",
            ]) + " |")
    return "\n".join(lines)


def verdicts(summary: dict) -> list[str]:
    """Per dataset: where ours is worse than defaults (more than 0.5 points)."""
    out = []
    for name, systems in summary["datasets"].items():
        ours, base = systems["ours"], systems["defaults"]
        worse = []
        for m in METRICS:
            if ours[m] is None or base[m] is None:
                continue
            delta = (ours[m] - base[m]) * (1 if HIGHER_IS_BETTER[m] else -1)
            if delta < -0.0005:  # anything the table shows (0.1 point)
                worse.append(f"{m} {_fmt(ours[m])} vs {_fmt(base[m])}")
        gain = (ours["body_f1"] - base["body_f1"]) * 100
        out.append(f"- **{name}**: body F1 {gain:+.1f} points; "
                   + ("worse on: " + ", ".join(worse) if worse else "not worse on any metric") + ".")
    return out


def floors_from(summary: dict) -> dict:
    floors = {}
    for name, systems in summary["datasets"].items():
        floors[name] = {}
        for m in METRICS:
            v = systems["ours"][m]
            if v is None:
                continue
            floors[name][m] = round(min(1.0, v + FLOOR_MARGIN), 3) if m == "empty" else round(max(0.0, v - FLOOR_MARGIN), 3)
    return floors


def check_floors(summary: dict, floors: dict) -> list[str]:
    """Failures as readable strings (empty list = all floors held)."""
    failures = []
    for name, metrics in floors.items():
        ours = summary["datasets"].get(name, {}).get("ours")
        if ours is None:
            failures.append(f"{name}: no pages evaluated")
            continue
        for m, floor in metrics.items():
            v = ours.get(m)
            if v is None:
                failures.append(f"{name}.{m}: not measured")
            elif (m == "empty" and v > floor) or (m != "empty" and v < floor):
                failures.append(f"{name}.{m}: {v:.3f} vs floor {floor:.3f}")
    return failures


def write_doc(summary: dict, n_pages: int, seconds: float, corpus: Path) -> None:
    from scraper.extraction.article import EXTRACTOR_VERSION

    intro = (Path(__file__).with_name("extraction_doc_intro.md").read_text()
             if Path(__file__).with_name("extraction_doc_intro.md").exists() else "")
    doc = [
        "# Extraction quality", "",
        "Generated by `python bench/extraction_eval.py` (do not edit the tables by hand).", "",
        f"Extractor version {EXTRACTOR_VERSION}; {n_pages} pages; wall time {seconds:.0f} s with 2 processes; "
        f"corpus `{corpus.name}/` (see `shared/corpus/README.md`).", "",
        "`ours` = `scraper.extraction.article.extract_article`; `defaults` = `trafilatura.bare_extraction(html, url=url, "
        "with_metadata=True)` with everything else at its default (text = body + comments, as `extract()` "
        "returns). Numbers are percentages except pages/s (single-process throughput including parsing) and "
        "traf passes (trafilatura extraction runs per page).", "",
        "## Per dataset", "", table(summary, "datasets"), "",
        "## Verdict per dataset", "", *verdicts(summary), "",
        "## Per language (pages with known language: fundus, andythefactory, mediacloud-gv)", "",
        table(summary, "languages"), "",
        intro,
    ]
    DOC_FILE.parent.mkdir(parents=True, exist_ok=True)
    DOC_FILE.write_text("\n".join(doc).rstrip() + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--fast", action="store_true", help="only the fixed CI subset; no doc written")
    parser.add_argument("--limit", type=int, help="at most N pages per dataset; no doc written")
    parser.add_argument("--dataset", action="append", choices=DATASETS, help="restrict to dataset(s)")
    parser.add_argument("--split", choices=("dev", "held"), help="only the development or held-out half; no doc written")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--write-floors", action="store_true", help=f"measure the fast subset, write {FLOORS_FILE.name}")
    parser.add_argument("--dump", type=Path, help="write per-page results as JSON lines")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        parser.error(f"corpus not found: {args.corpus}")

    pages = load_pages(args.corpus)
    if args.dataset:
        pages = [p for p in pages if p["dataset"] in args.dataset]
    if args.split:
        pages = split_half(pages, args.split)
    if args.fast:
        pages = fast_subset(pages)
    elif args.limit:
        per = defaultdict(list)
        for p in pages:
            per[p["dataset"]].append(p)
        pages = [p for items in per.values() for p in items[:: max(1, len(items) // args.limit)][: args.limit]]
    start = time.perf_counter()
    results = evaluate(pages, args.workers)
    seconds = time.perf_counter() - start
    summary = summarise(results)
    print(table(summary, "datasets"))
    print()
    print("\n".join(verdicts(summary)))
    print(f"\n{len(pages)} pages in {seconds:.0f} s")
    if args.dump:
        args.dump.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    if not (args.fast or args.limit or args.dataset or args.split):
        print()
        print(table(summary, "languages"))
        write_doc(summary, len(pages), seconds, args.corpus)
        print(f"wrote {DOC_FILE.relative_to(REPO)}")
    if args.write_floors:
        fast_summary = summary if args.fast else summarise(evaluate(fast_subset(load_pages(args.corpus)), args.workers))
        floors = {"subset": "fast", "margin": FLOOR_MARGIN, "datasets": floors_from(fast_summary)}
        FLOORS_FILE.write_text(json.dumps(floors, indent=2, sort_keys=True) + "\n")
        print(f"wrote {FLOORS_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
