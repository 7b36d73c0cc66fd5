"""Build the demo bundle (scraper/demo/data/) from ../shared/corpus.

The bundle is committed; this script documents exactly where each file came from and can
rebuild it. Pages are stored gzipped at their original URL paths, the way the mirror serves
them. Run from the repository root: python tools/make_demo_bundle.py
"""

from __future__ import annotations

import gzip
import json
import re
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
OUT = ROOT / "scraper" / "demo" / "data"
SITE = OUT / "site"

GV = CORPUS / "mediacloud-crawler-fixtures" / "crawler" / "gv"
GV_STORIES = CORPUS / "mediacloud-crawler-fixtures" / "crawler_stories" / "gv"
FUNDUS = CORPUS / "fundus"


def write(host: str, path: str, data: bytes, compress: bool = True) -> None:
    target = SITE / host / path.lstrip("/")
    if path.endswith("/"):
        target = target / "index.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".gz":  # a file that is gzipped on the real site too
        data = gzip.compress(data, 9, mtime=0)
    elif compress:
        target = target.with_name(target.name + ".gz")
        data = gzip.compress(data, 9, mtime=0)
    target.write_bytes(data)


def gv_real_url(html: str) -> str:
    # The pages carry no canonical link; their own permalink is the URL they cite most.
    urls = re.findall(r"http://globalvoicesonline\.org/2009/\d\d/\d\d/[a-z0-9-]+/", html)
    return max(set(urls), key=urls.count)


def build_global_voices(expected: list) -> None:
    feed = (GV / "test.rss").read_text(encoding="utf-8")
    for n in range(1, 16):
        html = (GV / f"index_{n}.html").read_text(encoding="utf-8")
        url = gv_real_url(html)
        feed = feed.replace(f"<BASE_WEBSITE_URL/>gv/index_{n}.html", url)
        write("globalvoicesonline.org", url.split("globalvoicesonline.org", 1)[1], html.encode())
        story = json.loads((GV_STORIES / f"{n}.json").read_text(encoding="utf-8"))
        sentence = next(s["sentence"] for s in story["story_sentences"][1:] if len(s["sentence"]) > 60)
        # Media Cloud wrote dates in the test machine's zone; the archive stores UTC.
        local = datetime.fromisoformat(story["publish_date"]).replace(tzinfo=ZoneInfo(story["timezone"]))
        expected.append({"outlet": "globalvoices", "url": url, "title": story["title"],
                         "published_day": local.astimezone(timezone.utc).strftime("%Y-%m-%d"),
                         "fragment": sentence[:60],
                         "language": "en"})
    assert "<BASE_WEBSITE_URL/>" not in feed
    write("globalvoicesonline.org", "/-/type/feature/feed/index.xml", feed.encode(), compress=False)


def fundus_page(relative: str) -> tuple[bytes, dict, dict]:
    index = json.loads((FUNDUS / "index.json").read_text(encoding="utf-8"))[relative]
    truth = json.loads((FUNDUS / index["ground_truth_file"]).read_text(encoding="utf-8"))
    html = gzip.decompress((FUNDUS / relative).read_bytes())
    return html, index, truth[index["ground_truth_key"]]


def fundus_expected(outlet: str, url: str, truth: dict, language: str) -> dict:
    paragraphs = [p for s in truth["body"]["sections"] for p in s["paragraphs"]]
    return {"outlet": outlet, "url": url, "title": truth["title"],
            "published_day": truth["publishing_date"][:10], "fragment": paragraphs[1][:60],
            "language": language}


def build_voa(expected: list) -> None:
    html, index, truth = fundus_page("test_data/us/VoiceOfAmerica_2024_04_28.html.gz")
    url = index["url"]
    assert url.endswith(VOA_ARTICLE_PATH)
    write("www.voanews.com", url.split("www.voanews.com", 1)[1], html)
    video_url = "https://www.voanews.com" + VOA_VIDEO_PATH
    write("www.voanews.com", VOA_VIDEO_PATH, voa_video_page(html, truth))
    published = truth["publishing_date"].replace(" ", "T")
    ns = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    news_entries = "".join(
        f"<url><loc>{loc}</loc><news:news><news:publication><news:name>Voice of America</news:name>"
        f"<news:language>en</news:language></news:publication><news:publication_date>{published}</news:publication_date>"
        f"<news:title>{title}</news:title></news:news></url>"
        for loc, title in ((url, truth["title"]), (video_url, VOA_VIDEO_TITLE)))
    news = (f'<?xml version="1.0" encoding="utf-8"?><urlset xmlns:news="http://www.google.com/schemas/sitemap-news/0.9" {ns}>'
            f"{news_entries}</urlset>")
    latest = (f'<?xml version="1.0" encoding="utf-8"?><urlset {ns}>'
              + "".join(f"<url><loc>{loc}</loc><lastmod>{published}</lastmod></url>" for loc in (url, video_url))
              + "</urlset>")
    write("www.voanews.com", "/sitemap_1_news.xml.gz", news.encode())
    write("www.voanews.com", "/sitemap_1_latest.xml.gz", latest.encode())
    sitemap_index = (
        f'<?xml version="1.0" encoding="utf-8"?><sitemapindex {ns}>'
        "<sitemap><loc>https://www.voanews.com/sitemap_1_latest.xml.gz</loc></sitemap>"
        "<sitemap><loc>https://www.voanews.com/sitemap_1_news.xml.gz</loc></sitemap></sitemapindex>"
    )
    write("www.voanews.com", "/sitemap.xml", sitemap_index.encode(), compress=False)
    expected.append(fundus_expected("voanews", url, truth, "en"))
    paragraphs = [p for s in truth["body"]["sections"] for p in s["paragraphs"]]
    expected.append({"outlet": "voanews", "url": video_url, "title": VOA_VIDEO_TITLE, "kind": "video",
                     "published_day": truth["publishing_date"][:10], "fragment": paragraphs[1][:60],
                     "language": "en"})


VOA_ARTICLE_PATH = "/a/america-s-child-care-crisis-is-holding-back-moms-without-college-degrees-/7585813.html"
VOA_VIDEO_PATH = "/a/child-care-crisis-holding-back-moms-video/7585900.html"
VOA_VIDEO_TITLE = "VIDEO: America's child care crisis is holding back moms without college degrees"


def voa_video_page(html: bytes, truth: dict) -> bytes:
    """A Pangea video item built from the real VOA article page (no real Pangea media page is
    in any corpus we have): the article's own template with the markup Pangea's media pages
    differ by: <body class="pg-media">, og:type video.other, a JSON-LD VideoObject, a <video>
    player in place of the story, and two paragraphs of the story as the text under it."""
    from lxml import html as lxml_html

    text = html.decode("utf-8").replace(VOA_ARTICLE_PATH, VOA_VIDEO_PATH).replace("7585813", "7585900")
    text = text.replace(" pg-article print-lay-article ", " pg-media print-lay-media ")
    text = text.replace('content="article" property="og:type"', 'content="video.other" property="og:type"')
    tree = lxml_html.fromstring(text)
    for script in tree.xpath('//script[@type="application/ld+json"]'):
        data = json.loads(script.text)
        if data.get("@type") == "NewsArticle":
            data.update({"@type": "VideoObject", "headline": VOA_VIDEO_TITLE, "name": VOA_VIDEO_TITLE,
                         "uploadDate": data["datePublished"], "duration": "PT2M41S",
                         "thumbnailUrl": data["image"]["url"],
                         "contentUrl": "https://voa-video-ns.akamaized.net/pangeavideo/2024/04/7585900_hq.mp4"})
            script.text = json.dumps(data, ensure_ascii=False)
    for element in tree.xpath("//title|//h1"):
        element.text = VOA_VIDEO_TITLE
    for meta in tree.xpath('//meta[@property="og:title" or @name="twitter:title"]'):
        meta.set("content", VOA_VIDEO_TITLE)
    story = tree.xpath('//div[@class="wsw"]')[0]
    story.clear()
    story.set("class", "wsw")
    player = lxml_html.fragment_fromstring(
        '<div class="c-mmp c-mmp--enabled"><video class="c-mmp__player" controls="controls" preload="none" '
        'poster="https://gdb.voanews.com/7C01456E-AFA3-4D09-A6AA-A6042A5159FA_w1080_h608.jpg" '
        'src="https://voa-video-ns.akamaized.net/pangeavideo/2024/04/7585900_hq.mp4"></video></div>')
    story.append(player)
    paragraphs = [p for s in truth["body"]["sections"] for p in s["paragraphs"]][:2]
    for paragraph in paragraphs:
        element = lxml_html.Element("p")
        element.text = paragraph
        story.append(element)
    return lxml_html.tostring(tree, encoding="utf-8", doctype="<!DOCTYPE html>")


def build_homepage_outlet(outlet: str, relative: str, homepage_path: str, title: str,
                          language: str, expected: list) -> None:
    html, index, truth = fundus_page(relative)
    url = index["url"]
    host = url.split("/")[2]
    write(host, url.split(host, 1)[1], html)
    # No real homepage of these outlets is available; this stand-in lists the bundled article.
    home = (f'<!DOCTYPE html><html lang="{language}"><head><meta charset="utf-8"><title>{title}</title></head>'
            f'<body><h1>{title}</h1><ul><li><a href="{url}">{truth["title"]}</a></li></ul></body></html>')
    write(host, homepage_path, home.encode(), compress=False)
    expected.append(fundus_expected(outlet, url, truth, language))


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}")
    shutil.rmtree(SITE, ignore_errors=True)
    expected: list = []
    build_global_voices(expected)
    build_voa(expected)
    build_homepage_outlet("kommersant", "test_data/ru/Kommersant_2025_05_14.html.gz", "/",
                          "Коммерсантъ", "ru", expected)
    build_homepage_outlet("pravda-ua", "test_data/ua/Pravda_2026_01_08.html.gz", "/rus/",
                          "Украинская правда", "ru", expected)
    (OUT / "expected.json").write_text(json.dumps(expected, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{len(expected)} articles written to {SITE}")


if __name__ == "__main__":
    main()
