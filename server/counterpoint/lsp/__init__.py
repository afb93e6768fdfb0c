"""The language server: a pygls 2 face over the engine (`counterpoint lsp`)."""
