"""``python -m pairup`` runs the same entry point as the ``pairup`` command."""

from pairup.entry import main

raise SystemExit(main())
