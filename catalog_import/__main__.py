"""Allow `python -m catalog_import`."""

from catalog_import.cli import main

if __name__ == "__main__":
    main()
