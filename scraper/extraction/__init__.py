"""Extraction: one fetched HTML page in, one article record out.

A library of its own, with no knowledge of crawling or of the archive's schema: the crawl's
pipeline, `mediawatch extract` and `mediawatch reextract` all call `extract_article` (through
the worker pool in `pool`). One module per concern: `article` (the body and the choice of
every field), `metadata` (what the page declares for machines), `dates`, `zones` (local time),
`authors`, `language`, `encoding` (bytes to text).
"""
