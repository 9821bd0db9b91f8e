"""Channels: thin adapters from Telegram, WhatsApp and the console to the core's Inbound/Outbound."""
