"""``python -m genre_lib``: the same command line as ``genre-lib``."""

from .cli import main

raise SystemExit(main())
