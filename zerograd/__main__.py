"""``python -m zerograd`` runs the ``zerograd`` command (see ``zerograd.cli``)."""
from zerograd.cli import main

raise SystemExit(main())
