"""Notices: composing them (templates, locales, safe names), the lint every message passes
before it is queued, DKIM signing, the outbox and SMTP delivery."""
