"""The archive on the web: Datasette, read-only.

- serve: `mediawatch serve` (checks the archive, then runs Datasette with the project's
  metadata, templates and this plugin);
- plugin: the Datasette plugin (search page, saved searches, feeds, the table's search box);
- feeds: Atom feeds; guard: what anonymous visitors are not served.

Built on archive/search/ and archive/store.py; nothing else in the archive imports it.
"""
