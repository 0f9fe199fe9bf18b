"""The `deskpilot` command line (typer)."""
