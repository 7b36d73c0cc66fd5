"""The outlet registry: which sites to crawl, how to find their articles, how politely, when."""
