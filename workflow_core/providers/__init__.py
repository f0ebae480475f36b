"""LLM providers: the seam between nodes and language models."""
