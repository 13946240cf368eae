"""What one chat session remembers: its turns (question, answer or the reason there is none)."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.interfaces.export import Exchange


@dataclass
class ChatTurn(Exchange):
    """One exchange of a session, with the licences of the articles its answer cites (for the cards)."""

    licences: dict[str, str] = field(default_factory=dict)  # article id -> licence
