"""Answering, made visible: the extractive answerer (:mod:`.answers`), the checks a candidate sentence must pass
(:mod:`.checks`, each returning a verdict with a reason code), the decision to answer or abstain
(:mod:`.decisions`), short answers (:mod:`.short`), other reports of the same statement (:mod:`.corroboration`),
follow-up questions (:mod:`.followup`), the optional LLM (:mod:`.llm`) and the trace that explains an answer
(:mod:`.trace`)."""
