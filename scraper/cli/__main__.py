"""`python -m scraper.cli`: the scheduler and the demo start crawls this way."""

from scraper.cli import main

main()
