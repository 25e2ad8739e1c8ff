"""Initial schema: assessments and follow-ups.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kb_version", sa.String(20), nullable=False),
        sa.Column("case", sa.JSON, nullable=False),
        sa.Column("assessment", sa.JSON, nullable=False),
    )
    op.create_table(
        "followups",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("assessment_id", sa.String(32),
                  sa.ForeignKey("assessments.id", ondelete="CASCADE"), nullable=False),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_followups_assessment_id", "followups", ["assessment_id"])


def downgrade() -> None:
    op.drop_index("ix_followups_assessment_id", table_name="followups")
    op.drop_table("followups")
    op.drop_table("assessments")
