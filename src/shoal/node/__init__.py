"""The node: runs, watches and restarts the servers the registry gives it on one host.

`lifecycle` (one server's pure state machine, over the values in `events`) and `restart` (the
pure restart decision) hold the rules; `activator` is the one place that spawns, signals and
reaps; the daemon is the asyncio shell that runs the machines' actions and feeds their results
back.
"""
