"""Answer-type checks: a quote must give what the question asks for, and never open with a fragment."""

from __future__ import annotations

import numpy as np
import pytest

from qa.answering.answers import ExtractiveAnswerer
from qa.assistant import Assistant
from qa.retrieval.evidence import Evidence, score_sentences, with_sentence_before
from qa.text.answer_type import Expected, answer_span, expected, states_what_is_asked, year_conflict
from qa.text.names import NameKind, names
from qa.text.outcome import outcome_unstated
from qa.text.sentences import ends_quotation, leans_back
from qa.types import Passage
from tests.conftest import assistant_over, rule_scorer


@pytest.mark.parametrize(("question", "kind"), [
    ("How many people were killed?", Expected.NUMBER),
    ("How old was Nathan Law when he won?", Expected.AGE),
    ("What share of pupils are iodine deficient?", Expected.SHARE),
    ("How much did Red Bull spend on the jump?", Expected.MONEY),
    ("How much compensation did Britain eventually pay the claimants?", Expected.MONEY),
    ("On what date was Richard III reburied?", Expected.DATE),
    ("In which year did the museum open?", Expected.YEAR),
    ("When did the festival begin?", Expected.TIME),
    ("Who scored the winner?", Expected.PERSON),
    ("Which Edinburgh psychologist led the study?", Expected.PERSON),
    ("What is the name of the man she married?", Expected.PERSON),
    ("Which construction company operated the crane?", Expected.ORGANISATION),
    ("What was the name of the hiking group he belonged to?", Expected.ORGANISATION),
    ("Which team from South America won the tournament?", Expected.NAME),
    ("What permanent name was given to element 113?", Expected.NAME),
    ("Where was Mandela buried?", Expected.PLACE),
    ("In which village was Mandela buried?", Expected.PLACE),
    ("Which nation's squad is he linked to?", Expected.NAME),
    ("Why did the crane collapse?", Expected.ANY),
    ("When the plant flowered, what was it called?", Expected.ANY),
    ("The Premier League title went to who?", Expected.PERSON),
    ("In the US, who decides on the requirements for teachers?", Expected.PERSON),
    ("What was the former trade of the man who set up the observatory?", Expected.ANY),
    ("What type of Lord is Doctor Who?", Expected.ANY),
    ("What is the last name of the player who scored the touchdown?", Expected.NAME),
])
def test_expected_answer_kind(question: str, kind: Expected) -> None:
    assert expected(question) is kind


@pytest.mark.parametrize(("question", "sentence", "answers"), [
    ("How many people were killed?", "At least 107 people were killed.", "107"),
    ("How many of the 12,000 asylum seekers replied?", "The plan covers 12,000 asylum seekers.", None),
    ("How many colonies did the team dig out?", "We collected a lot of colonies in old logging sites.", None),
    ("How old was Nathan Law when he won his seat?", "Nathan Law, 23, won with 50,818 votes.", "23"),
    ("How old was Nathan Law when he won his seat?", "Nathan Law won with 50,818 votes.", None),
    ("What share of children are iodine deficient?", "A survey of 1709 schoolchildren was carried out.", None),
    ("What share of children are iodine deficient?", "Almost 46% of the children were deficient.", "46%"),
    ("How much did the museum pay NASA?", "The museum will take over the orbiter next year.", None),
    ("How much did the museum pay NASA?", "The museum paid $28.8 million for the orbiter.", "$28.8 million"),
    ("On what date did the cash machine open?", "The island's first cash machine opened in a shop.", None),
    ("On what date did the cash machine open?", "The cash machine opened on 12 May.", "12 May"),
    ("Which Detroit firm built the prototypes?", "The cars have been built by a company (as yet unnamed) in "
                                                  "Detroit.", None),
    ("Which firm built the prototypes?", "The cars were built by Roush Industries in Detroit.", "Roush Industries"),
    ("Which firm built the prototypes?", "The prototypes were shown by Chris Urmson in Detroit.", None),
    ("Which university ran the study?", "Scans showed a change in the brain.", None),
    ("Which university ran the study?", "The study was run at Yale by Dr Kevin Pelphrey.", "Yale"),
    ("Who is paying for the observatory?", "It would be Britain’s first astrovillage.", None),
    ("Who is paying for the observatory?", "It is paid for by the Kielder Water Trust.", "Kielder Water Trust"),
    ("In which village was Mandela buried?", "Mandela was buried by Archbishop Desmond Tutu.", None),
    ("In which village was Mandela buried?", "Mandela was buried in Qunu, where he grew up.", "Qunu"),
    ("Which firm built the prototypes?", "Google said “it should be far safer than any other car”.", None),
    ("What is the robot called?", "Its makers call it “the friendly one”.", "the friendly one"),
    ("Who scored England's winner?", "In injury time, English captain Harry Kane scored a second goal.",
     "Harry Kane"),
    ("What nickname does Huffington give her assistants?", "Huffington calls them her “A-Team”.", "A-Team"),
    # Numbers that count nothing asked: a year, a sum of money, a duration, a frequency.
    ("How many views did the advert get?", "In 2014, the retailer spent £7m on an advert.", None),
    ("How many views did the advert get?", "In 2014, it got 22 million views.", "22 million"),
    ("How many fighters did he kill?", "He flew home at the end of a four-month tour.", None),
    ("How many months did the tour last?", "He flew home at the end of a four-month tour.", "four"),
    ("How many mice did the team use?", "These were once the realm of philosophy.", None),
    ("How many times did she win?", "She won the race twice.", "twice"),
    ("How much did it cost to build the plant?", "It will make enough to power a million homes.", None),
    ("How much compensation did Britain pay the claimants?", "Thousands of claims are expected.", None),
    ("How much compensation did Britain pay the claimants?", "Britain paid £19.9m to the claimants.", "£19.9m"),
    # A word that only opens a sentence, and what stands around a person's title.
    ("Which school was he attending?", "News of his arrest spread fast.", None),
    ("Which school was he attending?", "He was praised by US President Barack Obama.", None),
    ("What state does Cory Gardner serve?", "Republican Senator Cory Gardner of Colorado said so.", "Colorado"),
    ("Which group was Platz hiking with?", "Researchers believe Erdmann’s grandfather threw the bottle.", None),
    # "How many of the athletes" asks for a part of them: the count of all of them is no answer.
    ("How many of the athletes were born in November?", "UK Sport funds 1,300 athletes.", None),
    ("How many of the athletes were born in November?", "Only 40 of the 1,300 athletes were.", "40"),
    # "Who" may be a body, "the man" may not.
    ("Who runs the ship?", "The ship is run by the Church of Scientology.", "Church of Scientology"),
    ("What is the name of the man she married?", "She left the Church of Scientology.", None),
    ("Which scientist led the study?", "The study was run by the Kielder Water Trust.", None),
])
def test_the_answer_must_be_new_and_of_the_asked_kind(question: str, sentence: str, answers: str | None) -> None:
    span = answer_span(question, sentence)
    assert states_what_is_asked(question, sentence) is (answers is not None)
    if answers is not None:
        assert span is not None and answers in sentence[span.start : span.end]


@pytest.mark.parametrize(("sentence", "name", "kind"), [
    ("Sir Alex Ferguson praised him.", "Sir Alex Ferguson", NameKind.PERSON),
    ("It was said by coach Gareth Southgate on Monday.", "Gareth Southgate", NameKind.PERSON),
    ("The team met Harry Kane after the match.", "Harry Kane", NameKind.PERSON),
    ("The Stockholm International Water Institute warned.", "The Stockholm International Water Institute",
     NameKind.ORGANISATION),
    ("A report by SIWI followed.", "SIWI", NameKind.ORGANISATION),
    ("The blast hit Sabaa Bahrat Square at noon.", "Sabaa Bahrat Square", NameKind.PLACE),
    ("She trekked from Herat to Kabul.", "Herat", NameKind.PLACE),
    ("It is Britain’s first observatory.", "Britain’s", NameKind.PLACE),
    ("He coaches the Slovenian squad.", "Slovenian", NameKind.PLACE),
    ("The sale was handled by Poundland.", "Poundland", NameKind.UNKNOWN),
    ("He was praised by US President Barack Obama.", "President Barack Obama", NameKind.PERSON),
    ("He was praised by US President Barack Obama.", "US", NameKind.PLACE),
    ("Colorado Republican Senator Cory Gardner spoke.", "Colorado Republican", NameKind.UNKNOWN),
    ("Prime Minister Sanae Takaichi spoke.", "Prime Minister Sanae Takaichi", NameKind.PERSON),
    ("Researchers believe Erdmann’s grandfather threw it.", "Erdmann’s", NameKind.PERSON),
])
def test_names_are_classified(sentence: str, name: str, kind: NameKind) -> None:
    found = {n.text: n.kind for n in names(sentence)}
    assert found.get(name) is kind, found


def test_a_name_never_runs_across_sentences() -> None:
    found = [n.text for n in names("He will be called Prince George of Cambridge. When Kate was pregnant, J. K. "
                                   "Rowling wrote to St. Paul's.")]
    assert "Cambridge" in found and "Kate" in found and "J. K. Rowling" in found, found


def test_a_surname_that_is_also_a_city_is_a_person_where_the_full_name_stands() -> None:
    context = "Defense Secretary Lloyd Austin visited Kyiv on Monday. Austin said the aid would continue."
    sentence = "Austin said the aid would continue."
    assert [n.kind for n in names(sentence)] == [NameKind.PLACE]
    assert [n.kind for n in names(sentence, context)] == [NameKind.PERSON]
    question = "Who said the aid would continue?"
    assert answer_span(question, sentence) is None
    span = answer_span(question, sentence, context=context)
    assert span is not None and sentence[span.start : span.end] == "Austin"
    elsewhere = "Flights left New York for London. Three more landed in York."
    assert {n.text: n.kind for n in names("Three more landed in York.", elsewhere)}["York"] is NameKind.PLACE


def test_a_figure_ends_at_a_comma_and_space() -> None:
    sentence = "In 2014, 32 million electric bicycles were sold, 1,200 of them in Oslo."
    span = answer_span("How many electric bicycles were sold in 2014?", sentence)
    assert span is not None and sentence[span.start : span.end] == "32 million"
    span = answer_span("How many were sold in Oslo?", "Of those, 1,200 were sold in Oslo.")
    assert span is not None and "Of those, 1,200 were sold in Oslo."[span.start : span.end] == "1,200"


def test_year_conflict() -> None:
    question = "How many pilgrims died in the stampede during the 2015 Hajj?"
    assert year_conflict(question, "Over 345 pilgrims have been killed in a stampede.", "2006-01-12")
    assert not year_conflict(question, "Over 700 pilgrims have been killed in a stampede.", "2015-09-24")
    assert year_conflict("How many visitors came in 2005?", "Last year over 4 million visited.", "2007-03-01")
    assert not year_conflict("How many visitors came in 2005?", "In 2005, 3 million visited.", "2007-03-01")
    assert not year_conflict("How many visitors came?", "Last year over 4 million visited.", "2007-03-01")
    assert not year_conflict("How many visitors came in 2005?", "In 2005, 3 million visited.", None)
    # A day named with its year: an article written before it cannot report what happened on it.
    vote = "What share of the vote did Robert Sarvis win when Virginia voted on 5 November 2013?"
    assert year_conflict(vote, "A poll placed him at 13 percent.", "2013-09-30")
    assert not year_conflict(vote, "Sarvis won 6.5 percent of the vote.", "2013-11-06")
    assert year_conflict("Who won on November 5, 2013?", "The race is close.", "2013-11-04")
    # Evidence that names other years than the question's speaks of another year, whatever its date.
    advert = "How many YouTube views did the retailer's 2015 advert rack up?"
    assert year_conflict(advert, "In 2014, its advert had drummed up 22 million views.", None)
    assert not year_conflict(advert, "Its advert had drummed up 22 million views.", None)
    assert not year_conflict(advert, "By 2016, the 2015 advert had 30 million views.", None)



@pytest.mark.parametrize(("question", "text", "unstated"), [
    # A preview names the people of the outcome without stating it.
    ("Who was named to succeed Ferguson as manager?",
     "Ferguson will retire at the end of the season after a tenure in which he won 13 league titles.", True),
    ("Which design did New Zealanders choose in the referendum?",
     "The government intends to hold two referendums on the flag.", True),
    ("Who won the final?", "Spain will face England in the final on Sunday.", True),
    # The outcome is stated, whatever else the sentence looks ahead to.
    ("Who won the final?", "Spain beat England 2-1 in the final and will parade the trophy on Monday.", False),
    ("Who was named manager?", "The club named David Moyes as manager; he will start in July.", False),
    # No outcome asked: scheduling, or a question about the future itself.
    ("Who had scheduled a vote for Monday?", "McConnell had scheduled a vote that would keep the government open.",
     False),
    ("Where will the summit be held?", "The summit will be held in Singapore.", False),
    ("Who was named manager?", "The club named David Moyes as manager in May.", False),
])
def test_a_preview_does_not_state_the_outcome(question: str, text: str, unstated: bool) -> None:
    assert outcome_unstated(question, text) is unstated



ARTICLES = [
    {"id": "match", "title": "England beat Tunisia in World Cup opener", "date": "2018-06-19", "source": "Sports Wire",
     "text": "England beat Tunisia 2-1 in Volgograd on Monday. Tunisia won a penalty kick in the 33rd minute. "
             "Ferjani Sassi scored from the penalty spot, equalising for the African side. "
             "In injury time, English captain Harry Kane scored a second goal as England won a corner kick."},
    {"id": "cars", "title": "Google unveils driverless car prototypes", "date": "2014-05-28", "source": "Tech Desk",
     "text": "Google's driverless car prototypes were built specially for it by a firm in Detroit that has not been "
             "named. The cars have no steering wheel, no brake pedal and no accelerator. "
             "Other car makers, including Volvo and Ford, sell cars that can park themselves."},
    {"id": "lab", "title": "Lab reports breakthrough", "date": "2020-02-02", "source": "Science Desk",
     "text": "Researchers at the Halden institute said the new battery lasts twice as long. "
             "It was tested for eleven months in freezing conditions. "
             "They said mass production could start next year."},
]


@pytest.fixture(scope="module")
def sports_assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    return assistant_over(ARTICLES, tmp_path_factory.mktemp("sports"))


def test_who_question_quotes_the_sentence_with_the_name(sports_assistant: Assistant) -> None:
    answer = sports_assistant.ask("Who scored from the penalty spot for the African side?")
    assert not answer.abstained and "Ferjani Sassi" in answer.citations[0].quote
    citation = answer.citations[0]
    article = sports_assistant.collection.store.article(citation.article_id)
    assert article is not None and citation.answer_start is not None and citation.answer_end is not None
    assert article.text[citation.answer_start : citation.answer_end] == "Ferjani Sassi"


def test_an_answer_never_opens_with_a_fragment(sports_assistant: Assistant) -> None:
    answer = sports_assistant.ask("How long was the battery tested in freezing conditions?")
    assert not answer.abstained and "eleven months" in answer.text
    first = answer.citations[0].quote
    assert first.startswith("Researchers at the Halden institute"), first


def test_a_near_miss_abstains_when_the_closest_sentence_lacks_the_asked_kind(sports_assistant: Assistant) -> None:
    """The sentence about who built the cars names no firm; quoting the one that names other firms would be
    a made-up answer."""
    answer = sports_assistant.ask("Which Detroit company built Google's driverless car prototypes?")
    assert answer.abstained and answer.citations == [], answer.text
    assert any("don't give an organisation's name" in note for note in answer.notes), answer.notes
    assert answer.related and answer.related[0].article_id == "cars"


def _passage(article_id: str, text: str, start: int = 0) -> Passage:
    """A retrieved passage holding ``text``, which starts at ``start`` in its article."""
    return Passage(chunk_id=f"{article_id}#0", article_id=article_id, title=article_id.title(), text=text,
                   start=start, end=start + len(text), score=1.0)


def _sentence(passage: Passage, opening: str, closing: str, score: float = 5.0) -> Evidence:
    """The evidence of ``passage`` from the words ``opening`` to the end of the words ``closing``."""
    start = passage.text.index(opening)
    end = passage.text.index(closing, start) + len(closing)
    return Evidence(passage, 0, ((passage.start + start, passage.start + end),), passage.text[start:end],
                    score=score)


def test_an_answer_never_opens_with_a_sentence_leaning_on_one_outside_its_passage() -> None:
    text = "He was 20 years old at the time. Platz threw the bottle into the Baltic Sea in 1913."
    passage = Passage(chunk_id="bottle#1", article_id="bottle", title="Message in a bottle", text=text,
                      start=500, end=500 + len(text), score=1.0)
    leaning = Evidence(passage, 0, ((500, 532),), text[:32], score=5.0)
    standalone = Evidence(passage, 0, ((533, 500 + len(text)),), text[33:], score=4.5)
    answer = ExtractiveAnswerer(rule_scorer(), margin=2.0).answer(
        "When did Platz throw the bottle into the sea?", "", [passage], [leaning, standalone])
    assert not answer.abstained
    assert answer.text.startswith("Platz threw the bottle"), answer.text


@pytest.mark.parametrize(("sentence", "tail"), [
    ('There are no casualties left at the location."', True),
    ("It was the best of times.”", True),
    ('He wrote that “I have made it clear that they worked in Europe."', False),  # mixed marks, one quotation
    ("“It is a worker’s right,” Wakebe said.", False),
    ("“Our guardian angel will take care of you.”", False),
])
def test_the_tail_of_a_quotation_is_known(sentence: str, tail: bool) -> None:
    assert ends_quotation(sentence) is tail
    assert not tail or leans_back(sentence)


def test_an_answer_never_opens_with_the_tail_of_a_quotation() -> None:
    text = ('The director said "All the wounded have been taken to hospital. There are no casualties left." '
            "The crane fell because of strong winds and heavy rain. Photos showed debris.")
    passage = _passage("crane", text)
    evidence = score_sentences(lambda query, texts: np.array([5.0 if "winds" in t else 0.0 for t in texts]),
                               "What made the crane fall?", [passage])
    pairs = [e for e in evidence if len(e.spans) == 2]
    assert pairs and not any(e.text.startswith("There are no casualties") for e in pairs)
    answer = ExtractiveAnswerer(rule_scorer()).answer("What made the crane fall?", "", [passage], evidence)
    assert answer.text.startswith("The crane fell because of strong winds"), answer.text


def test_a_leaning_quote_is_not_given_the_tail_of_a_quotation_as_its_opening() -> None:
    text = ("Tabata said: “Nobody knew. We all were.” His research followed the monitoring of Japan’s speed "
            "skating team. The other group trained on bikes.")
    research = _sentence(_passage("hiit", text), "His research", "team.")
    answer = ExtractiveAnswerer(rule_scorer()).answer("Which team was he monitoring?", "", [research.passage],
                                                       [research])
    assert answer.text.startswith("His research followed"), answer.text


def test_a_number_question_abstains_when_no_number_is_given(sports_assistant: Assistant) -> None:
    answer = sports_assistant.ask("How much did the new battery cost to develop?")
    assert answer.abstained


def test_a_passage_opening_on_a_leaning_sentence_is_grown_back_by_the_sentence_it_leans_on() -> None:
    article = ("The University of Chicago runs several schools. It operates the Laboratory Schools and four "
               "public charter schools. Its press is the largest university press in the country.")
    passage = _passage("uchicago", article[article.index("It operates"):], article.index("It operates"))
    operates = _sentence(passage, "It operates", "schools.")
    [grown] = with_sentence_before([operates], {"uchicago": article}.get)
    assert grown.passage.start == 0 and grown.passage.text == article and grown.spans == operates.spans
    answer = ExtractiveAnswerer(rule_scorer()).answer("What does the university operate?", "", [passage], [grown])
    assert answer.text.startswith("The University of Chicago runs several schools. It operates"), answer.text
    citation = answer.citations[0]
    assert article[citation.start : citation.end] == citation.quote  # offsets still index the article
    # Without the article's text (or a passage at its start) nothing changes.
    assert with_sentence_before([operates], {}.get) == [operates]


def test_a_quote_reaches_back_along_a_chain_of_leaning_sentences() -> None:
    text = ("Mandela's death sends South Africa into mourning. But his passing will be felt around the world. "
            "It was his act of forgiveness, after 27 years in prison, that made him a statesman.")
    passage = _passage("mandela", text)
    forgiveness = _sentence(passage, "It was", "statesman.")
    answer = ExtractiveAnswerer(rule_scorer()).answer("How many years was Mandela in prison?", "", [passage],
                                                       [forgiveness])
    assert answer.text.startswith("Mandela's death sends South Africa"), answer.text
