"""Outgoing mail: templates (emails), SMTP (mailer), the outbox, receipts, reminders and
the weekly digest."""
