"""Question + evidence -> does the evidence speak of the event asked about? (rules, no model)

A settled outcome is not stated by evidence that only looks ahead to it: "Who was named to succeed
Ferguson?" is not answered by "Ferguson will retire at the end of the season", nor "Which design did New
Zealanders choose?" by "The government intends to hold two referendums". A preview of an event names the
people and places of its outcome without stating it: when the article that reported the result is missing,
the preview is the nearest miss, and quoting it answers what it never says.
"""

from __future__ import annotations

import re

# Each kind of outcome: the verb's forms a question asks with, and the past forms that state it settled.
_OUTCOMES = {
    "choice": ("choose chose chosen pick picked select selected name named appoint appointed elect elected "
               "crown crowned decide decided", "chose chosen picked selected named appointed elected crowned decided"),
    "contest": ("win won beat defeat defeated", "won beat defeated"),
    "verdict": ("sentence sentenced convict convicted acquit acquitted", "sentenced convicted acquitted"),
    "vote": ("vote voted approve approved pass passed reject rejected", "voted approved passed rejected"),
}
_ASKED_FORMS = {form: kind for kind, (forms, _) in _OUTCOMES.items() for form in forms.split()}
_SETTLED_FORMS = {kind: frozenset(settled.split()) for kind, (_, settled) in _OUTCOMES.items()}
_ANY_FORM = "|".join(sorted(_ASKED_FORMS))
# "Who was elected…", "Which design did they choose…", "Who won…": the question takes the outcome as settled
# (the verb right after "was", "has", or anywhere after "did"; "who had scheduled a vote" asks no outcome).
_ASKS_OUTCOME = re.compile(rf"\b(?:was|were|been|got|has|have|had)\s+(?:\w+ly\s+)?({_ANY_FORM})\b"
                           rf"|\bdid\b[^?]*?\b({_ANY_FORM})\b|\b(won|chose|beat)\b", re.I)
# Not "would": "under the deal, the president would appoint…" states the deal's terms, a settled outcome.
_LOOKS_AHEAD = re.compile(r"\b(will|shall|is to|are to|(intends?|plans?|aims?|hopes?) to|(is|are) (expected|set|"
                          r"due|scheduled|likely|poised|going) to)\b|\w'll\b", re.I)


def asked_outcomes(question: str) -> set[str]:
    """The kinds of settled outcome (choice, contest, verdict, vote) that ``question`` takes as settled."""
    verbs = [word for match in _ASKS_OUTCOME.finditer(question) for word in match.groups() if word]
    return {_ASKED_FORMS[verb.lower()] for verb in verbs}


def outcome_unstated(question: str, text: str) -> bool:
    """True when ``question`` asks how something turned out (who was named, what they chose, who won) and
    ``text`` only looks ahead to it ("will", "intends to", "is expected to"), stating no such outcome
    ("… will retire after a tenure in which he won 13 titles" states no one named to succeed him)."""
    asked = asked_outcomes(question)
    if not asked or not _LOOKS_AHEAD.search(text):
        return False
    settled = frozenset().union(*(_SETTLED_FORMS[kind] for kind in asked))
    return settled.isdisjoint(re.findall(r"[a-z]+", text.lower()))

