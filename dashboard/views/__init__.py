"""Page logic: one module per page, each with ``render(ctx)``; screens/ holds the scripts."""
