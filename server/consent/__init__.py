"""Consent and GDPR (GDPR-1..5, TRK-10): legal bases, subscriptions, global opt-out, one-time
bases, the one send gate (`gate.check_recipients`) and the append-only consent audit."""
