"""The engine: everything that runs a spec. Knows nothing of LSP or the terminal."""
