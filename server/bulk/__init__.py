"""Bulk sending (BULK-1..12): email templates first; bulk sends, recipients and quotas follow."""
