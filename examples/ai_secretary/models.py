"""Inbound messages, stored with SQLAlchemy (SQLite by default)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, Integer, String, Text, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


class Base(DeclarativeBase):
    pass


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(32), default="received")
    received_at: Mapped[datetime] = mapped_column(DateTime, default=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "sender": self.sender,
            "summary": self.summary,
            "status": self.status,
            "received_at": self.received_at.isoformat(),
        }


def make_sessionmaker(database_url: str) -> sessionmaker[Session]:
    engine: Engine = create_engine(database_url)
    try:
        Base.metadata.create_all(engine)
    except OperationalError:
        # Prefork workers start together: another one created the table between check and create.
        Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)
