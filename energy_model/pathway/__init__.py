"""Least-cost pathway over investment periods: spec, multi-period build, per-period share
targets, foresight variants, cost of the target and near-optimal alternatives (docs/pathway.md).
"""
