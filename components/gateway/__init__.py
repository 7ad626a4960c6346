"""The stack's OpenAI-compatible gateway (LiteLLM's proxy) on a container runtime."""
