"""Page logic: one module per page, each with ``render(ctx)``; pages/ holds the thin scripts."""
