"""Cron expressions as ops write them, turned into APScheduler triggers.

APScheduler's ``CronTrigger.from_crontab`` numbers weekdays from Monday = 0, so a crontab line
copied from a server ("0 3 * * 0", Sundays) would run on Mondays. Here weekday numbers mean
what they mean in cron (0 and 7 = Sunday) and are translated to day names, which APScheduler
reads unambiguously. A sixth, leading field gives seconds ("*/10 * * * * *"), for schedules
tighter than a minute.
"""

from __future__ import annotations

from apscheduler.triggers.cron import CronTrigger

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ScheduleError(ValueError):
    """The expression is not a valid 5- or 6-field cron expression."""


def cron_trigger(expression: str, timezone: str = "UTC") -> CronTrigger:
    """A CronTrigger for a crontab-style expression (see module docstring)."""
    fields = expression.split() if isinstance(expression, str) else []
    if len(fields) == 5:
        second, (minute, hour, day, month, weekday) = "0", fields
    elif len(fields) == 6:
        second, minute, hour, day, month, weekday = fields
    else:
        raise ScheduleError(
            f"{expression!r} is not a cron expression of 5 fields (minute hour day month weekday) "
            "or 6 (second first)"
        )
    try:
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=_weekday_names(weekday), timezone=timezone)
    except ValueError as exc:
        raise ScheduleError(f"{expression!r}: {exc}") from None


def _weekday_names(field: str) -> str:
    """Cron weekday numbers (0-7, Sunday = 0 and 7) as APScheduler day names."""
    items = []
    for item in field.split(","):
        body, _, step = item.partition("/")
        if body == "*" or not any(c.isdigit() for c in body):
            items.append(item)
            continue
        start, _, end = body.partition("-")
        try:
            first, last = int(start), int(end) if end else None
        except ValueError:
            raise ScheduleError(f"weekday {item!r} mixes numbers and names") from None
        if not 0 <= first <= 7 or (last is not None and not first <= last <= 7):
            raise ScheduleError(f"weekday {item!r} is outside 0-7")
        if last is None and not step:
            items.append(_DAY_NAMES[first])
            continue
        days = range(first, (7 if last is None else last) + 1, int(step or 1))
        items.extend(dict.fromkeys(_DAY_NAMES[d] for d in days))  # 0 and 7 are both Sunday
    return ",".join(dict.fromkeys(items))
