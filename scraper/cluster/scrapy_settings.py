"""The Scrapy settings module of a crawl host (Scrapyd's SCRAPY_SETTINGS_MODULE).

Made from the one place settings live, scraper/crawl/settings.py: the base every crawl uses
and what a hosted crawl adds. Nothing is set here by hand.
"""

from scraper.crawl.settings import BASE_SETTINGS, HOSTED_SETTINGS

globals().update(BASE_SETTINGS)
globals().update(HOSTED_SETTINGS)
