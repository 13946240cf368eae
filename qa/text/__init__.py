"""Text helpers every stage shares, importing nothing above them: words and stop words (:mod:`.words`),
sentences (:mod:`.sentences`), names (:mod:`.names`), dates and relative time words (:mod:`.timeframe`), the kind
of answer a question asks for (:mod:`.answer_type`), outcomes and life events (:mod:`.outcome`), bounded
questions (:mod:`.questions`) and escaping for HTML and Markdown (:mod:`.markup`)."""
