"""Page logic: one module per page, each with ``render(ctx)``; dashboard/pages/ has the scripts."""
