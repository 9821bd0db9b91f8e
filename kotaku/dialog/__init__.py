"""The conversation engine: channel-neutral flows with named, persisted states."""
