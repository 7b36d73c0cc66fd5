"""mediawatch: crawl regional news outlets into a searchable SQLite archive."""
