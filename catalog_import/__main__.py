"""Allow `python -m catalog_import`."""

from catalog_import.cli import main

main()
