"""tracked emails listed by sent time: the rep's index covers (sent_at, id)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 15:20:00

"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tracked_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_tracked_emails_user")
        batch_op.create_index(
            "ix_tracked_emails_user_sent", ["org_id", "user_id", "sent_at", "id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("tracked_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_tracked_emails_user_sent")
        batch_op.create_index("ix_tracked_emails_user", ["org_id", "user_id", "id"], unique=False)
