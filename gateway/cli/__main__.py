"""`python -m gateway.cli`: the same as the `dongne` console script."""

from gateway.cli import main

main()
