"""mediawatch: crawl regional news outlets into a searchable SQLite archive.

One subpackage per concern; imports point one way, from the top of this list down:

- ``cli``: the `mediawatch` command line, a thin layer over the packages below; ``demo``:
  the offline demo and the local mirror server it (and the tests) crawl.
- ``crawl``: running crawls: the Scrapy process, settings, downloader and spider middlewares,
  the archive pipeline, extensions, per-outlet locks, re-extraction of stored pages.
- the spiders (top-level ``spiders/``): discover article URLs and yield requests and items.
- ``discovery``: parsing the documents that list article URLs (sitemaps, feeds, links).
- ``registry``: the outlet registry (outlets.yml), its schema, schedules and URL identity.
- ``extraction``: a library of its own: one HTML page in, one article record out, and the
  worker pool that runs it in parallel.
- the archive (top-level ``archive/``): the SQLite schema, writes, search index, Datasette.
"""
