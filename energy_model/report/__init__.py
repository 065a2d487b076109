"""Report stage: seaborn figures of saved results (never solves, never touches ``n.model``).

Reads a scenario result folder ``results/<scenario>/`` written by :mod:`energy_model.results`:
``metrics.csv`` (tidy ``metric, variant, carrier, bus, value, unit``), ``network.nc`` (the solved
network: hourly dispatch, storage levels, prices), ``scenario.yaml``, ``run.json``,
``verdict.csv`` and, when present, ``temperature.csv`` (``snapshot, temperature_c`` [°C]).
Writes ``results/<scenario>/figures/<name>.png`` and ``.svg`` and, across scenarios,
``results/comparison/<name>.png``/``.svg`` plus ``comparison/metrics.csv`` and
``comparison/verdicts.csv``.

Modules, from light to heavy (import what you use from the module that defines it; this
package file imports nothing, so the light modules stay light):

- :mod:`~energy_model.report.catalog`: the figures of the bundle (names, titles, captions) and
  :class:`~energy_model.report.catalog.MissingDataError` (pure Python).
- :mod:`~energy_model.report.loading`: reading the files of a result folder (pandas, yaml).
- :mod:`~energy_model.report.scenario_results`: a result folder loaded once for the figures,
  with its solved network (pypsa, when the network is first used).
- :mod:`~energy_model.report.quantities`: unit conversion, metric rows, the renewable-share
  table (pandas).
- :mod:`~energy_model.report.style`: theme, carrier names and colours, figure helpers
  (matplotlib, seaborn).
- :mod:`~energy_model.report.series`: time series of a solved network (pypsa).
- :mod:`~energy_model.report.figures`: the per-scenario ``plot_*`` functions.
- :mod:`~energy_model.report.comparison`: the cross-scenario figures and tables.
- :mod:`~energy_model.report.rendering`: saving figures, the worker processes and the entry
  points :func:`~energy_model.report.rendering.render_scenario_figures` and
  :func:`~energy_model.report.rendering.render_comparison`.

Importing any module changes no process-wide state: the seaborn theme is applied only while a
figure is built or saved (:func:`energy_model.report.style.report_theme`).
"""
