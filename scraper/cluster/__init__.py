"""Several crawl hosts, one archive (docs/scale-out.md).

What runs where:

- each crawl host runs Scrapyd, which starts the hosted spider (`hosted`) as
  `scrapy crawl outlet -a outlet=ID`; its crawl stores into the host's own SQLite file, the
  spool, whose outbox (`spool`) records every stored page, run and error in order; the host's
  `publisher` sends the outbox to the host's Redis stream (`bus`);
- `controller`: the scheduler (top-level `scheduler.py`) driving Scrapyd through `scrapyd`
  places each outlet on one host (`config`, rendezvous hashing in `assign`) and follows its
  jobs; a per-outlet `lease` in Redis keeps two hosts off one outlet;
- the one `writer` applies every host's stream to the central archive, idempotently;
- `deploy` registers the installed mediawatch with each host's Scrapyd.

Imports point down into scraper.crawl, spiders, scraper.registry and archive; nothing below
imports this package.
"""
