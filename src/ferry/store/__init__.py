"""Ferry's metadata store. ``open_store(url)`` picks the implementation by URL scheme."""
