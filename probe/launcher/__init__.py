"""``auto-instrument``: run any Python command with the probe loaded (sitecustomize pattern)."""
