"""the post a ticket answers, items by post

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 09:00:00

Connectors now carry the text and link of the post (video, photo, tweet) a comment answers;
the ticket keeps them so the CM reads the comment in its context. Bad-buzz detection reads
a post's recent items by (channel, post, time).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("post_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("post_url", sa.String(length=1000), nullable=True))
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.create_index("ix_items_post", ["channel_id", "post_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("items", schema=None) as batch_op:
        batch_op.drop_index("ix_items_post")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("post_url")
        batch_op.drop_column("post_text")
