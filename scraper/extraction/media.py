"""What kind of item a page is: an article, or a video, audio, photo gallery or infographic.

Pangea (RFE/RL, VOA) publishes its media items under the same `/a/<slug>/<id>.html` shape as
its articles; on the 2018 rferl.org, ozodi.org and ozodlik.org homepages about a third of the
linked items carry a media icon (`ico-video`, `ico-audio`, `ico-gallery`, `ico-infographic`).
Such a page has little text (a description, sometimes a transcript), so it must not be judged
by the article rules (it is never a "no text" failure) and an analyst searching articles may
want it out of the way.

The page says what it is, in three places, most specific first:
1. its template: Pangea names the page type in `<body class>` (`pg-article` on an article;
   `pg-media`, `pg-video`, `pg-audio`, `pg-photo-gallery`, `pg-infographic` on media pages);
2. schema.org JSON-LD: a `VideoObject`, `AudioObject` or `ImageGallery` with no article
   object beside it and no `og:type` "article" (an article that embeds a video is still an
   article: of the 1,684 evaluation pages, 4 carry a VideoObject beside og:type "article");
3. OpenGraph `og:type` (`video.*`, `music.*`).
"""

from __future__ import annotations

from .metadata import PageMetadata

ARTICLE = "article"
KINDS = (ARTICLE, "video", "audio", "gallery", "infographic")

# Pangea <body> classes naming a media template; "pg-media" is its player page, video or audio.
_BODY_CLASSES = {
    "pg-video": "video", "pg-audio": "audio", "pg-media": "media",
    "pg-photo-gallery": "gallery", "pg-photogallery": "gallery", "pg-gallery": "gallery",
    "pg-infographic": "infographic", "pg-infographics": "infographic",
}
_JSONLD_MEDIA = {"videoobject": "video", "audioobject": "audio", "podcastepisode": "audio",
                 "imagegallery": "gallery", "mediagallery": "gallery"}
# JSON-LD types of a text article (see metadata._ARTICLE_TYPES): their presence wins.
_JSONLD_TEXT = {"article", "newsarticle", "reportagenewsarticle", "analysisnewsarticle", "opinionnewsarticle",
                "backgroundnewsarticle", "reviewnewsarticle", "blogposting", "liveblogposting", "report"}


def page_kind(meta: PageMetadata, has_audio_player: bool = False) -> str:
    """One of KINDS for a page, from what it declares; "article" when it declares nothing else.

    `has_audio_player`: the page holds an <audio> element (tells Pangea's "pg-media" audio
    pages from its video pages when the JSON-LD does not)."""
    declared = _from_body(meta.body_classes)
    types = set(meta.jsonld_types)
    if declared == "media":
        media_types = [_JSONLD_MEDIA[t] for t in meta.jsonld_types if t in _JSONLD_MEDIA]
        declared = media_types[0] if media_types else ("audio" if has_audio_player else "video")
    if declared:
        return declared
    og_type = (meta.og_type or "").lower()
    # An article object, or og:type "article", makes it an article that embeds media (an
    # article page often carries a VideoObject for its lead video).
    if types & _JSONLD_TEXT or og_type == "article":
        return ARTICLE
    for name in meta.jsonld_types:
        if name in _JSONLD_MEDIA:
            return _JSONLD_MEDIA[name]
    if og_type.startswith("video"):
        return "video"
    if og_type.startswith("music") or og_type == "audio":
        return "audio"
    return ARTICLE


def _from_body(classes: list[str]) -> str | None:
    if "pg-article" in classes:
        return ARTICLE
    return next((_BODY_CLASSES[c] for c in classes if c in _BODY_CLASSES), None)
