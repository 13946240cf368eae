"""Question + as-of date -> the date window its relative time words point at ("this week", "on Tuesday").

News questions lean on the day they are asked: "What is the death toll from this week's disaster in
Mecca?" means one disaster in 2015 and another in 2006, depending on the question's date. The window
covers the days on which articles reporting the event would be published: from the earliest day the
words allow up to the as-of date (an article about Tuesday's vote is dated Tuesday or later).

Windows are clamped to the calendar (1 January of year 1 to 31 December 9999): "last week" asked as of
0001-01-03 covers 1–3 January of year 1, "9999999999 days ago" reaches back to year 1, and a month that
would fall outside it ("in December" as of June of year 1, "in March 0000") sets no window.
"""

from __future__ import annotations

import calendar
import contextlib
import re
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, date

from qa.text.words import SPELLED_NUMBERS

MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
WEEKDAYS = {name.lower(): number for number, name in enumerate(calendar.day_name)}
RECENT_DAYS = 30  # "recently", "lately", "latest"
_NUMBER_WORDS = {"a": 1, **SPELLED_NUMBERS, "a few": 3, "few": 3, "several": 7}
_MONTH = "|".join(MONTHS)
_WEEKDAY = "|".join(WEEKDAYS)
_COUNT = r"\d+|a few|few|several|" + "|".join(k for k in _NUMBER_WORDS if " " not in k)

_NAMED_DAY = re.compile(rf"\b(?P<d1>\d{{1,2}})(st|nd|rd|th)? (?P<m1>{_MONTH}),? (?P<y1>\d{{4}})\b"
                        rf"|\b(?P<m2>{_MONTH}) (?P<d2>\d{{1,2}})(st|nd|rd|th)?,? (?P<y2>\d{{4}})\b", re.I)

# Checked in order; the first phrase found sets the window.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [(name, re.compile(pattern, re.I)) for name, pattern in [
    ("days_ago", rf"\b({_COUNT})\s+days?\s+ago\b"),
    ("weeks_ago", rf"\b({_COUNT})\s+weeks?\s+ago\b"),
    ("today", r"\b(today|tonight|this (morning|afternoon|evening))\b|\btoday's\b"),
    ("yesterday", r"\b(yesterday|last night)\b"),
    ("weekday", rf"\b(on|last|this past|this|since|from)\s+({_WEEKDAY})\b|\b({_WEEKDAY})(['’]s|\s+night|\s+morning)"),
    ("weekend", r"\b(this|last|at the|over the|on the) weekend\b"),
    ("this_week", r"\b(this|the past|this past|the last|in the past|over the past) week\b|\bthis week's\b"
                  r"|\bearlier this week\b"),
    ("last_week", r"\blast week\b|\blast week's\b"),
    ("month_name", rf"(?<!born )\b(in|during|since|this|last|early|late|mid-?)\s+({_MONTH})(\s+(\d{{4}}))?\b"),
    ("this_month", r"\bthis month\b|\bthis month's\b|\b(the past|the last|in the past) month\b"),
    ("last_month", r"\blast month\b|\blast month's\b"),
    ("this_year", r"\bthis year\b|\bthis year's\b|\bso far this year\b"),
    ("last_year", r"\blast year\b|\blast year's\b"),
    ("recently", r"\b(recent|recently|lately|latest|newest)\b"),
]]


@dataclass(frozen=True)
class DateWindow:
    """The inclusive range of article dates that a question's time words point at."""

    start: date
    end: date
    phrase: str  # the words in the question that set it

    def contains(self, iso_date: str | None) -> bool:
        """True if ``iso_date`` (YYYY-MM-DD) falls inside the window; False for a missing or bad date."""
        day = parse_date(iso_date)
        return day is not None and self.start <= day <= self.end

    @property
    def label(self) -> str:
        """The window in words: "10–16 June 2022", "16 June 2022", "28 December 2021 – 3 January 2022"."""
        if self.start == self.end:
            return _day(self.end)
        if self.start.year != self.end.year:
            return f"{_day(self.start)} – {_day(self.end)}"
        if self.start.month != self.end.month:
            return f"{self.start.day} {calendar.month_name[self.start.month]} – {_day(self.end)}"
        return f"{self.start.day}–{_day(self.end)}"


def parse_date(value: str | None) -> date | None:
    """``YYYY-MM-DD`` (a longer ISO timestamp is cut to its date) as a date; None if missing or invalid."""
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def days_named(text: str) -> list[date]:
    """The days ``text`` names with their year: "5 November 2013", "November 5th, 2013"."""
    days = []
    for match in _NAMED_DAY.finditer(text):
        day, month, year = (match.group("d1") or match.group("d2"), match.group("m1") or match.group("m2"),
                            match.group("y1") or match.group("y2"))
        with contextlib.suppress(ValueError):  # "31 June 2020"
            days.append(date(int(year), MONTHS[month.lower()], int(day)))
    return days


def window_for(question: str, as_of: date) -> DateWindow | None:
    """The date window that the relative time words of ``question`` mean on ``as_of``; None without any."""
    for name, pattern in _PATTERNS:
        match = pattern.search(question)
        if match is None:
            continue
        bounds = _bounds(name, match, as_of)
        if bounds is None or bounds[0] > bounds[1]:
            continue
        return DateWindow(bounds[0], bounds[1], match.group(0))
    return None


def today() -> str:
    """Today's date, ``YYYY-MM-DD``: the as-of date of a question that names none (page, CLI and API)."""
    return date.today().isoformat()


def shifted(day: date, days: int) -> date:
    """``day`` moved by ``days`` (negative: back), clamped to the calendar rather than overflowing it."""
    return date.fromordinal(min(max(day.toordinal() + days, 1), date.max.toordinal()))


def _bounds(name: str, match: re.Match[str], as_of: date) -> tuple[date, date] | None:
    """The window of phrase ``name``, clamped to the calendar; None when it lies wholly outside it."""
    if name == "days_ago":
        return shifted(as_of, -_count(match.group(1)) - 1), as_of
    if name == "weeks_ago":
        return shifted(as_of, -7 * _count(match.group(1)) - 6), as_of
    if name == "today":
        return shifted(as_of, -1), as_of  # an article dated the evening before says "today" too
    if name == "yesterday":
        return shifted(as_of, -1), as_of
    if name == "weekday":
        weekday = next(WEEKDAYS[word] for word in re.findall(r"[a-z]+", match.group(0).lower()) if word in WEEKDAYS)
        back = (as_of.weekday() - weekday) % 7
        if match.group(0).lower().startswith("last") and back == 0:
            back = 7
        return shifted(as_of, -back), as_of
    if name == "weekend":
        back = (as_of.weekday() - 5) % 7  # the latest Saturday on or before as-of
        if match.group(0).lower().startswith("last") and back < 2:
            back += 7
        return shifted(as_of, -back), as_of
    if name == "this_week":
        return shifted(as_of, -6), as_of
    if name == "last_week":
        return shifted(as_of, -13), as_of
    if name == "month_name":
        return _month_window(match, as_of)
    if name == "this_month":
        return as_of.replace(day=1), as_of
    if name == "last_month":
        first = as_of.replace(day=1)
        return shifted(first, -1).replace(day=1), as_of
    if name == "this_year":
        return as_of.replace(month=1, day=1), as_of
    if name == "last_year":  # last year's reports run into the first week of this one
        return date(max(as_of.year - 1, MINYEAR), 1, 1), min(as_of, shifted(as_of.replace(month=1, day=1), 6))
    return shifted(as_of, -RECENT_DAYS), as_of  # recently


def _month_window(match: re.Match[str], as_of: date) -> tuple[date, date] | None:
    """The named month (of the named year, else its latest occurrence up to as-of), plus a week of reports."""
    month = MONTHS[match.group(2).lower()]
    if match.group(4):
        year = int(match.group(4))
    else:
        year = as_of.year if month <= as_of.month else as_of.year - 1
        if match.group(1).lower() == "last" and month == as_of.month:
            year -= 1
    if not MINYEAR <= year <= MAXYEAR:
        return None
    start = date(year, month, 1)
    end = shifted(date(year, month, calendar.monthrange(year, month)[1]), 7)
    return start, min(end, as_of) if start <= as_of else end


def _count(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _day(day: date) -> str:
    return f"{day.day} {calendar.month_name[day.month]} {day.year}"
