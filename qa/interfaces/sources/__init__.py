"""The parts of :mod:`qa.sources` that people use: ``qa feeds`` and ``qa ingest URL`` (:mod:`.commands`), the REST
API's link and feed routes (:mod:`.routes`) and the page's Web panel (:mod:`.panel`)."""
