"""``python -m allocator`` runs the CLI."""

from allocator.cli import main

raise SystemExit(main())
