"""Zhangjiakou renewable scenario engine.

Scenario file → PyPSA network → constraints → HiGHS → metrics → report → ``results/<scenario>/``.
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("energy-model")
except metadata.PackageNotFoundError:  # pragma: no cover - source checkout without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
