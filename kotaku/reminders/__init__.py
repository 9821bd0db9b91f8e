"""Reminders: daily report reminders, the facilitator digest, escalation and the weekly summary, written
to the outbox on a schedule local to each site (APScheduler 3.x, jobs rebuilt at start)."""
