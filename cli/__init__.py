"""The `whoknows` command line: a thin click adapter over the `whoknows` core package."""
