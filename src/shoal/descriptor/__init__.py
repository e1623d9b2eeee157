"""The IceGrid application descriptor: model, parser, expansion, diff and writer (pure code)."""

# The hint of every DescriptorError this package raises: true for check, diff, deploy and start.
FIX_HINT = "fix the descriptor and run the command again"
