"""Answering, made visible: the checks a candidate sentence must pass (each returning a verdict with a reason
code), the decision to answer or abstain, and the trace that explains an answer."""
