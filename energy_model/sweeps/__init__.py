"""Uncertainty sweeps on Dask: sample a scenario's uncertain inputs, solve, analyse, publish.

``spec`` (sweep files), ``sampling`` (designs), ``tasks`` (what a worker does), ``store``
(Parquet records), ``runner`` (Dask), ``analysis`` (probabilities, sensitivities) and ``page``
(static HTML). Sits in the publishing layer beside :mod:`energy_model.site`; only
:mod:`energy_model.cli` imports it. See docs/sweeps.md.
"""
