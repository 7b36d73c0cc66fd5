"""Full-text search over the archive.

- index: the folded FTS5 index and its word list, kept in step with the articles table by
  triggers (part of the archive's schema: archive/store.py creates and upgrades it);
- query, inflection, spelling: a query's words parsed, bounded and expanded into the word
  forms and other-script spellings the archive holds;
- finder: one search as the search page, its exports and feeds run it (matches, counts,
  chart, ranked page);
- saved: named searches kept in the archive.

The web side (archive/web/) and the command line call these; nothing here imports them.
"""
