"""``python -m pairup`` runs the same entry point as the ``pairup`` command."""

from pairup.cli import main

raise SystemExit(main())
