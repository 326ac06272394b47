"""LLM endpoints: the OpenAI-compatible client with its cache, local serving, the LLM-driven stages."""
