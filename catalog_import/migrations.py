"""Bring the database schema up to date with the alembic migrations shipped with the project."""

from pathlib import Path

from alembic.config import Config

from alembic import command

PACKAGE_DIR = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """Alembic configuration for ``database_url``, from a source checkout or an installed wheel."""
    bundled = PACKAGE_DIR / "migrations"
    script_location = bundled if bundled.is_dir() else PACKAGE_DIR.parent / "alembic"
    config = Config()
    config.set_main_option("script_location", str(script_location))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Run the migrations (synchronously; call it before the event loop starts or in a thread)."""
    command.upgrade(alembic_config(database_url), revision)
