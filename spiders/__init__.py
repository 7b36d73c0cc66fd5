"""The one generic spider (`outlet`) and what spiders yield (`items`)."""
