"""Scheduled crawls (APScheduler 3). Not yet implemented: see the scheduler issue."""
