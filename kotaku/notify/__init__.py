"""Notifications: the transactional outbox and its dispatcher."""
