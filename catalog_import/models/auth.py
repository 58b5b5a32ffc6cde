"""Integrations (API clients with hashed secrets) and the server's token-signing key."""

import uuid
from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog_import.models.base import Base, created_at_column


class Integration(Base):
    """A client of the API. Imports belong to the integration that started them."""

    __tablename__ = "integrations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(Text)
    # Webhook deliveries are signed with this secret (Standard Webhooks), so it is kept readable.
    webhook_secret: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()


class ServerKey(Base):
    """Keys the server generates for itself once, shared by every API process (the token-signing key)."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = created_at_column()
