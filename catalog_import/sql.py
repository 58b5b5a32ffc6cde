"""Small SQL helpers shared by the repositories."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, Text, any_, bindparam
from sqlalchemy.dialects.postgresql import UUID


def any_text(values: Sequence[str]) -> ColumnElement[Any]:
    """``= ANY(:array)``: one parameter however many values (asyncpg allows 32,767 parameters)."""
    return any_(bindparam(None, list(values), type_=ARRAY(Text)))


def any_uuid(values: Sequence[uuid.UUID]) -> ColumnElement[Any]:
    return any_(bindparam(None, list(values), type_=ARRAY(UUID(as_uuid=True))))
