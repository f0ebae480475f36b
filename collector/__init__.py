"""flowscope collector."""
