"""Studio pages: one module per page family, each exposing ``router``."""
