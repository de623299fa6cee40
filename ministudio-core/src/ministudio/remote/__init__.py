"""Paid engines far away: submit once, wait, download; the journal, webhooks, hosting."""
