"""Reading the documents that list article URLs: sitemaps, Google News sitemaps, feeds, links."""
