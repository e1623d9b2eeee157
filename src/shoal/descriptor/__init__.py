"""The IceGrid application descriptor: model, parser, expansion, diff and writer (pure code)."""
