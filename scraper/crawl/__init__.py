"""Running crawls: Scrapy's process and settings, middlewares, the archive pipeline.

`process.run_crawl` runs the outlet spiders (top-level ``spiders/``) in one Scrapy process;
everything Scrapy builds from the crawler lives here, a module per role as in Scrapy itself:
`settings`, `downloadermiddlewares`, `pipelines`, `extensions`; plus the per-outlet `locks`
and `reextract`, the pipeline's second half run again over pages the archive already holds.
"""
