"""The ``flowscope kb`` command (knowledge bases live in :mod:`workflow_core.retrieval`)."""
