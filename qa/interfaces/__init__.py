"""Everything a person or a program talks to: the CLI (:mod:`.cli`, its shared options in :mod:`.cli_options`),
answers as Markdown, HTML and JSON (:mod:`.export`), ``qa eval`` (:mod:`.evaluation`), the web page and REST API
(:mod:`.ui`) and the commands, routes and page panel for links and feeds (:mod:`.sources`)."""
