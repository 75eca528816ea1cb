"""``python -m heygen_lab``: the same as the ``heygen-lab`` command (works before a PATH rehash)."""

from heygen_lab.cli import main

raise SystemExit(main())
