"""Control-plane routes under ``/api/v1``; each module adapts one registry service to HTTP."""
