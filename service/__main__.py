"""`python -m service` is the `koble` command."""

from service.cli import main

main()
