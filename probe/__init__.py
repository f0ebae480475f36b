"""flowscope probe."""
