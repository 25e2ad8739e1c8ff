"""SQLAlchemy 2 tables: saved assessments and their dated follow-ups.

No personal data is stored beyond what the person typed into the case (no names, no
e-mails); the access token is kept only as its SHA-256 hash.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = ["AssessmentRow", "Base", "FollowupRow"]


class Base(DeclarativeBase):
    pass


class AssessmentRow(Base):
    __tablename__ = "assessments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    kb_version: Mapped[str] = mapped_column(String(20), nullable=False)
    case: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    assessment: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    followups: Mapped[list[FollowupRow]] = relationship(
        back_populates="parent", cascade="all, delete-orphan", passive_deletes=True,
        order_by="(FollowupRow.date, FollowupRow.seq)")


class FollowupRow(Base):
    __tablename__ = "followups"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("assessments.id", ondelete="CASCADE"), index=True,
        nullable=False)
    date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    parent: Mapped[AssessmentRow] = relationship(back_populates="followups")
