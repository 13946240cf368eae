"""Question -> the kind of answer it expects; sentence -> where it states one (rules, no model).

A quote can only answer "how many" with a number the question does not already give, "who" or "which
company" with a name the question does not already hold, "on what date" with a date. Checking that
before quoting catches topical sentences that talk around the question ("which team won" -> a sentence
about the series' games) and near misses whose answer the articles never give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from qa.text.names import NameKind, is_generic, names
from qa.text.timeframe import MONTHS, WEEKDAYS, days_named
from qa.text.words import SPELLED_NUMBERS
from qa.text.words import words as word_list


class Expected(Enum):
    """What a question asks for."""

    ANY = "any"
    NUMBER = "number"
    AGE = "age"
    SHARE = "share"
    MONEY = "money"
    DATE = "date"
    YEAR = "year"
    TIME = "time"
    NAME = "name"  # any proper name or quoted term: a title, a team, a language
    PERSON = "person"  # who, which scientist: a person or a body, never a place
    ORGANISATION = "organisation"  # which company, university, museum: neither a person nor a place
    PLACE = "place"  # where, which city, country, village: never a person

    @property
    def is_name(self) -> bool:
        """True for the kinds answered by a proper name."""
        return self in _NAME_KINDS


_NUMBER_WORDS = ("|".join(SPELLED_NUMBERS) + r"|eleven|twelve|fifteen|twenty|thirty|forty|"
                 r"fifty|sixty|seventy|eighty|ninety|hundred|hundreds|thousand|thousands|million|millions|billion|"
                 r"billions|dozen|dozens|half|several|single|once|twice|thrice")
_MONTHS = "|".join(MONTHS)  # one calendar vocabulary: qa.text.timeframe's
_MONTH_ABBREVIATIONS = r"jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec"
_WEEKDAYS = "|".join(WEEKDAYS)

# Up to three words between "which" and the noun that says what is asked ("which Detroit firm"), but no verb:
# "what is the body-clock time" asks for a time, not a body.
_FILLER = r"((?!(is|was|are|were|did|does|do|has|had|will|would|can|could|should)\b)[\w'’]+[- ]){0,3}?"

# "Who" may be a person or a body; "the man", "which scientist" only a person. Roles ("which leader",
# "which author") are asked of people too, but a firm can lead or write a report.
_HUMAN_ASKED = (rf"\bname of the (man|woman|person|boy|girl|child|baby)\b|\b(which|what) {_FILLER}(person|man|"
                r"woman|boy|girl|scientist|politician|actor|actress|singer|poet|novelist|musician|comedian|"
                r"historian|professor|doctor|economist|athlete|footballer|backbencher|senator|chef|\w+ist)\b(?![-'’])")
_ROLES = (r"artist|author|minister|president|player|designer|star|figure|pioneer|founder|leader|writer|coach|"
          r"manager|official|expert|researcher|MP|judge|candidate|inventor|entrepreneur|director")

# Checked in order: the first that matches decides.
_QUESTION_KINDS: list[tuple[Expected, re.Pattern[str]]] = [(kind, re.compile(pattern, re.I)) for kind, pattern in [
    (Expected.AGE, r"\b(how old|what age|at what age|aged how)\b"),
    (Expected.SHARE, r"\b(what|which) (share|percentage|percent|proportion|fraction|portion)\b|\bwhat per ?cent\b"),
    (Expected.MONEY, r"\bhow much (money|cash|funding)\b"
                     r"|\bhow much (\w+ )?(did|does|do|will|would|was|is|were|has|had)\b"
                     r"[^?]*\b(pay|paid|spend|spent|cost|costs|receive|received|earn|earned|raise|raised|sell|sold|"
                     r"worth|fine|fined|charge|charged|invest|invested|owe|owed|price)\b|\bat what (price|cost)\b"
                     r"|\bwhat (did|does|will) [^?]* cost\b|\bwhat (was|is) the (price|cost|fee|fine|budget|salary)\b"),
    (Expected.NUMBER, r"\bhow (many|much|long|far|big|large|tall|high|deep|wide|heavy|fast|often)\b"
                      r"|\bwhat (number|amount|figure|total|score|death toll|toll)\b|\bby how much\b"),
    (Expected.DATE, r"\b(on )?(what|which) (date|day)\b"),
    (Expected.YEAR, r"\b(in )?(what|which) year\b"),
    (Expected.TIME, r"^\s*when\b|\b(in |during )?(what|which) (month|time|century|decade|season)\b"),
    (Expected.PLACE, r"^\s*where\b|\b(in|from|to|at) which (\w+ )?(city|country|town|place|region|state|village)\b"
                     rf"|\b(which|what) {_FILLER}(city|country|nation|town|village|region|state|province|"
                     r"island|county|district|square|plaza|street|river|airport|station|capital|continent|venue|stadium|"
                     r"park|port|valley|lake|mountain)\b(?![-'’])"),
    (Expected.ORGANISATION, r"\bname of the (\w+[- ]){0,2}?(organi[sz]ation|group|company|charity|firm|project|"
                            r"business|school|club)\b"
                            rf"|\b(which|what) {_FILLER}(company|firm|organi[sz]ation|group|party|university|"
                            r"school|college|newspaper|magazine|journal|channel|network|agency|body|brand|museum|bank|"
                            r"chain|shop|store|label|airline|ministry|department|institute|charity|broadcaster|"
                            r"retailer|supermarket|carmaker|manufacturer|publisher|outlet|business|operator)\b(?![-'’])"),
    # A "who" after another question word is a relative ("the man who set up…") or a name ("Doctor Who").
    (Expected.PERSON, rf"^\s*(who|whom|whose)\b|^((?!\b(what|which|how|when|where|why)\b)[^?])*\b(who|whom|whose)\b"
                      rf"[^?]*\?\s*$|{_HUMAN_ASKED}"
                      rf"|\b(which|what) {_FILLER}({_ROLES})\b(?![-'’])"),
    (Expected.NAME, r"\bwhat (is|was|are|were) (the |his |her |its |their )?((first|last|full|family|maiden) )?"
                    r"(name|names|title)\b"
                    r"|\bwhat (\w+ )?(name|nickname|title) (is|was|were|did|does|will|has|had)\b"
                    rf"|\b(which|what) {_FILLER}(team|club|side|squad|language|religion|book|film|song|album|"
                    r"ship|event|festival|award|prize|website|site|app|tribe|band|church|court|hospital|"
                    r"label|brand|show|programme|series)\b"),
]]

_HAS_NUMBER = re.compile(rf"\d|\b({_NUMBER_WORDS})\b", re.I)
_HAS_AGE = re.compile(r"\b\d{1,3}[- ]?(years?|yrs?)[- ]old\b|\baged? \d{1,3}\b|,\s*\d{1,3},|\(\d{1,3}\)"
                      r"|\b\d{1,3}-year-old\b|\bage of \d{1,3}\b|\b(in (his|her|their) )?(teens|twenties|thirties|"
                      r"forties|fifties|sixties|seventies|eighties|nineties)\b", re.I)
_HAS_SHARE = re.compile(r"%|\bper ?cent\b|\bpercentage\b|\b(half|third|quarter|fifth|tenth)s?\b|\bone in \w+\b"
                        r"|\b\d+ (in|out of) \d+\b|\bmajority\b|\bminority\b", re.I)
_CURRENCY_WORDS = r"dollars?|pounds?|euros?|yen|yuan|rupees?|francs?|cents?|pence|usd|gbp|eur"
_HAS_MONEY = re.compile(rf"[$£€¥₹]|\b({_CURRENCY_WORDS}|"
                        r"million|billion|trillion|bn|m)\b|\bfree\b|\bnothing\b", re.I)
_HAS_DATE = re.compile(rf"\b({_MONTHS}|{_MONTH_ABBREVIATIONS}\.?)\s+\d{{1,2}}\b|\b\d{{1,2}}(st|nd|rd|th)?\s+"
                       rf"(of\s+)?({_MONTHS}|{_MONTH_ABBREVIATIONS})\b|\b({_WEEKDAYS})\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b"
                       r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b(yesterday|today|tomorrow)\b", re.I)
_MONTH_YEAR = re.compile(rf"\b({_MONTHS})\s+(1[5-9]\d\d|20\d\d)\b", re.I)
_YEAR_AFTER = re.compile(r",?\s(1[5-9]\d\d|20\d\d)\b")
_HAS_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)s?\b|\blast year\b|\bthis year\b", re.I)
_HAS_TIME = re.compile(rf"\d|\b({_MONTHS}|{_WEEKDAYS}|yesterday|today|tomorrow|tonight|century|decade|ago|week|"
                       r"weekend|month|year|spring|summer|autumn|fall|winter|morning|afternoon|evening|night|noon|"
                       r"midnight|dawn|since|until|after|before|during|later|earlier|soon)\b", re.I)
_YEAR = re.compile(r"\b(1[5-9]\d\d|20\d\d)\b")
# Numbers that do not count things: "In 2014," is a year, "a four-month tour" a duration, "once" a frequency.
_YEAR_OF = re.compile(rf"\b(in|since|by|until|till|from|of|during|before|after|early|late|mid|{_MONTHS})[- ]$", re.I)
_TIME_UNIT = re.compile(r"-(second|minute|hour|day|week|month|year|decade|century)s?\b", re.I)
_PART_OF = re.compile(r"\bhow many of (?:the|its|their|his|her|our|these|those) (?:[\d,.]+ )?([a-z]+)", re.I)
_FREQUENCY = re.compile(r"^(once|twice|thrice)$", re.I)
_CURRENCY = re.compile(rf"[$£€¥₹]|\b({_CURRENCY_WORDS}|free|nothing)\b", re.I)
_NUMBER_TOKEN = re.compile(rf"\d[\d,.]*\d|\d|\b({_NUMBER_WORDS})\b", re.I)
_QUOTED = re.compile(r"[“\"]([^”\"]{2,60})[”\"]")
_NOT_NAMES = {
    "i", "the", "a", "an", "he", "she", "it", "they", "we", "you", "his", "her", "its", "their", "our", "this",
    "that", "these", "those", "there", "here", "in", "on", "at", "but", "and", "or", "so", "yet", "as", "if",
    "when", "while", "after", "before", "since", "for", "with", "by", "from", "to", "of", "mr", "mrs", "ms", "dr",
    "however", "meanwhile", "also", "according", "today", "yesterday", "last", "one", "some", "many",
    "most", "all", "both", "each", "what", "who", "which", "why", "how", "where", "wikinews", "interview", "q",
    *_MONTHS.split("|"), *_WEEKDAYS.split("|"),
}
# Capitalised only because they open a sentence.
_SENTENCE_STARTERS = {
    "officials", "researchers", "scientists", "experts", "police", "critics", "residents", "people", "now", "then",
    "later", "earlier", "during", "despite", "although", "because", "several", "few", "other", "others", "another",
    "no", "not", "we", "my", "your", "such", "those", "these", "everyone", "nobody", "someone", "students",
    "children", "parents", "workers", "doctors", "teachers", "authorities", "witnesses", "fans", "users", "visitors",
    "tourists", "analysts", "investors", "voters", "members", "leaders", "scientist", "under", "until", "over",
    "instead", "still", "thus", "therefore", "indeed", "finally", "first", "second", "next", "yes", "well", "asked",
    "unlike", "like", "once", "only", "even", "just", "more", "less", "each", "every", "any", "nothing", "something",
    "here", "it's", "that's", "there's", "let", "perhaps", "maybe", "overall", "together", "meanwhile", "however",
}
_AMOUNT_PART = re.compile(r"[\d,.$£€¥₹%]| ")
_SCALE = re.compile(r"\s?(million|billion|trillion|bn|m|thousand|per ?cent|percent|dollars?|pounds?|euros?|yen)\b",
                    re.I)
_NAME_KINDS = {Expected.NAME, Expected.PERSON, Expected.ORGANISATION, Expected.PLACE}
# The names that cannot answer each kind of name question ("who" is a person or a body, never a place).
_NOT_ACCEPTED = {Expected.NAME: set(), Expected.PERSON: {NameKind.PLACE},
                 Expected.ORGANISATION: {NameKind.PERSON, NameKind.PLACE}, Expected.PLACE: {NameKind.PERSON}}
_HUMAN = re.compile(_HUMAN_ASKED, re.I)
_SPAN_KINDS = {Expected.NUMBER: _NUMBER_TOKEN, Expected.AGE: _HAS_AGE, Expected.SHARE: _HAS_SHARE,
               Expected.MONEY: _HAS_MONEY, Expected.DATE: _HAS_DATE, Expected.YEAR: _HAS_YEAR}


@dataclass(frozen=True)
class Span:
    """Where, inside a sentence, the answer it gives stands: ``text[start:end]``."""

    start: int
    end: int
    sure: bool = True  # False for a name the rules could not tell the kind of (a lone surname, a brand)


def expected(question: str) -> Expected:
    """The kind of answer ``question`` asks for (ANY when the rules don't tell)."""
    for kind, pattern in _QUESTION_KINDS:
        if pattern.search(question):
            if kind is Expected.TIME and re.match(r"^\s*when\b[^?]*,\s*(what|which|who|how)\b", question, re.I):
                continue  # "When X happened, what was it called?" asks for the thing, not the time
            return kind
    return Expected.ANY


def answer_span(question: str, sentence: str, kind: Expected | None = None, context: str = "") -> Span | None:
    """The first place in ``sentence`` that gives what ``question`` asks for and the question does not hold.

    None when the sentence gives no such thing; for questions of no particular kind, the span of the
    whole sentence (it may answer; the cross-encoder's score decides). ``kind`` is ``expected(question)``,
    for callers that check many sentences against one question; ``context`` the text around the sentence
    (its passage), where a lone surname's full name may stand ("Valeska Paris" for "Paris").
    """
    kind = kind or expected(question)
    if kind is Expected.ANY or kind is Expected.TIME:
        return Span(0, len(sentence)) if kind is Expected.ANY or _HAS_TIME.search(sentence) else None
    asked = set(word_list(question))
    if kind.is_name:
        refused = _NOT_ACCEPTED[kind] | ({NameKind.ORGANISATION} if _HUMAN.search(question) else set())
        return _new_name(sentence, asked, kind, refused, context)
    if kind is Expected.NUMBER and not _HAS_NUMBER.search(sentence):
        return None
    counting = kind is Expected.NUMBER and bool(re.search(r"\bhow many\b", question, re.I))
    for match in _SPAN_KINDS[kind].finditer(sentence):
        if kind is Expected.NUMBER and not _counts(question, sentence, match):
            continue
        start, end = _widened(sentence, match.start(), match.end())
        money = _CURRENCY.search(sentence[start:end])
        if kind is Expected.MONEY and not (money or re.search(r"\d", sentence[start:end])):
            continue  # "enough to power a million homes": a scale alone is no sum of money
        if counting and money:
            continue  # a sum of money counts no fighters or views
        words = word_list(sentence[start:end])
        if not set(words) <= asked or not words:
            return Span(start, end)
    return None


def _counts(question: str, sentence: str, match: re.Match[str]) -> bool:
    """False for a number that does not count anything asked: a year ("In 2014, …"), a duration joined to its
    unit ("a four-month tour", unless the question asks for months), a frequency ("once", unless it asks
    how many times), or the whole that the question asks a part of."""
    token = match.group(0)
    whole = _PART_OF.search(question)
    if whole is not None and re.match(rf"[\s-]+{re.escape(whole.group(1))}", sentence[match.end() :], re.I):
        return False  # "how many of the athletes…" asks for a part: "1,300 athletes" is the whole
    if _YEAR.fullmatch(token) and _YEAR_OF.search(sentence[: match.start()]):
        return False
    unit = _TIME_UNIT.match(sentence, match.end())
    if unit is not None and unit.group(1).lower() not in question.lower():
        return False
    return not _FREQUENCY.match(token) or bool(re.search(r"\bhow (many times|often)\b", question, re.I))


def states_what_is_asked(question: str, sentence: str) -> bool:
    """True when ``sentence`` gives an answer of the kind ``question`` asks for, not already in the question."""
    return answer_span(question, sentence) is not None


def year_conflict(question: str, text: str, article_date: str | None) -> bool:
    """True when the question names a year or a day that an article of ``article_date`` cannot be about.

    An article cannot report a year that had not begun when it was written, nor a day after it was written
    ("when Virginia voted on 5 November 2013" is past a poll of September), and one written more than a year
    later must name the year it talks about. Whatever its date, ``text`` that names years, none of them the
    question's, speaks of another year.
    """
    years = {int(y) for y in _YEAR.findall(question)}
    named = {int(y) for y in _YEAR.findall(text)}
    if years and named and not years & named:
        return True  # "In 2014, the advert had 22 million views" does not answer for the 2015 advert
    if not years or not article_date or not article_date[:4].isdigit():
        return False
    if any(day.isoformat() > article_date[:10] for day in days_named(question)):
        return True
    published = int(article_date[:4])
    return all(year > published or (published > year + 1 and year not in named) for year in years)


def _widened(sentence: str, start: int, end: int) -> tuple[int, int]:
    """``start:end`` grown over the figures and units around it ("$" -> "$28.8 million", "%" -> "46%")."""
    # ", " ends a figure: "In 2009, 3.5 million" holds two ("1,200" stays one).
    while start > 0 and _AMOUNT_PART.fullmatch(sentence[start - 1]) and sentence[start - 2 : start] != ", ":
        start -= 1
    while end < len(sentence) and _AMOUNT_PART.fullmatch(sentence[end]) and sentence[end : end + 2] != ", ":
        end += 1
    tail = _SCALE.match(sentence, end)
    if tail is not None:
        end = tail.end()
    piece = sentence[start:end]
    return start + len(piece) - len(piece.lstrip(" ,")), end - len(piece) + len(piece.rstrip(" ,."))


def _new_name(sentence: str, asked: set[str], kind: Expected, refused: set[NameKind],
              context: str = "") -> Span | None:
    """A quoted term or a proper name of the kind asked for that the question does not hold; full names
    before single words."""
    found = _new_names(sentence, asked, kind, refused, context)
    return max(found, key=lambda span: (span.sure, " " in sentence[span.start : span.end].strip()), default=None)


def name_spans(question: str, sentence: str, kind: Expected, context: str = "") -> list[Span]:
    """Every span of ``sentence`` that :func:`answer_span` could give for a name question ``question`` of
    ``kind`` (a quoted term alone, when one fits), in reading order."""
    refused = _NOT_ACCEPTED[kind] | ({NameKind.ORGANISATION} if _HUMAN.search(question) else set())
    return _new_names(sentence, set(word_list(question)), kind, refused, context)


def time_span(sentence: str) -> Span | None:
    """Where ``sentence`` states a time: a day ("5 November", "on Tuesday", "yesterday"), a month with its
    year ("March 2015"), else a year ("in 2014"); None when it states none of these."""
    for pattern in (_HAS_DATE, _MONTH_YEAR, _HAS_YEAR):
        match = pattern.search(sentence)
        if match is not None:
            year = _YEAR_AFTER.match(sentence, match.end())  # "5 November, 2013": the day with its year
            return Span(match.start(), year.end() if year is not None else match.end())
    return None


def _new_names(sentence: str, asked: set[str], kind: Expected, refused: set[NameKind],
               context: str = "") -> list[Span]:
    """The quoted term (alone) or the proper names of the kind asked for that the question does not hold."""
    for match in _QUOTED.finditer(sentence):
        words = word_list(match.group(1))
        if not words or set(words) <= asked:
            continue
        # A quoted title answers "what is it called"; a person, a firm or a place is a name, not a quotation.
        if kind is Expected.NAME or (match.group(1)[:1].isupper() and len(words) <= 6):
            return [Span(match.start(1), match.end(1))]
    found = []
    for name in names(sentence, context):
        words = [w for w in word_list(name.text) if w not in _NOT_NAMES]
        if not words or set(words) <= asked or name.kind in refused:
            continue
        if name.at_sentence_start and len(words) == 1 and (words[0] in _SENTENCE_STARTERS or is_generic(words[0])
                                                           or name.kind is NameKind.UNKNOWN):
            continue  # "Officials said…", "News of…": a capital at the start of a sentence is no name
        found.append(Span(name.start, name.end, kind is Expected.NAME or name.kind is not NameKind.UNKNOWN))
    return found
