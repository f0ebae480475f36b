"""Instrumentation of graphon, Dify's workflow engine (see :mod:`probe.targets_graphon`)."""
