"""``python -m counterpoint``: the CLI."""

from counterpoint.cli import main

raise SystemExit(main())
