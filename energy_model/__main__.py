"""``python -m energy_model`` runs the command line."""

from __future__ import annotations

import sys

from energy_model.cli import main

sys.exit(main())
