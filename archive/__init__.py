"""The archive: one SQLite file that every part of mediawatch writes to or reads.

- store: the schema, its header and guard, and every write a crawl makes (one transaction
  each); frontier: the URLs to fetch; backup, readonly, companions: copies, read-only
  connections and the files kept beside an archive;
- search/: the full-text index and the search that reads it;
- web/: Datasette serving the archive (search page, feeds, guards).

Imports point one way: web → search → store (the index module is part of the schema store
creates; it imports nothing from store).
"""
