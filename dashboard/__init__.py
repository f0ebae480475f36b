"""flowscope dashboard."""
