"""Use cases shared by the chat, the CLI and the scheduler: one function each, not three."""
