"""Script jobs: the job service, processors and the script-side API (processors first)."""
