"""Pydantic specs of Ferry's entities, shared by the server, the SDK and the CLI."""
