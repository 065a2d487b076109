"""Optimisation layer: the only code that builds and solves linopy models.

``model`` builds and solves (one options policy), ``constraints`` states the scenario's extra
constraints, ``solve`` runs a scenario (with ``screening`` and, on failure, ``diagnose``),
``reachable`` finds the largest reachable share, ``compat`` holds every PyPSA/linopy internal.
"""
