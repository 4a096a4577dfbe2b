"""The ``hetero`` command line (typer). One module per command group; see :mod:`hetero.cli.main`."""
