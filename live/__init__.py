"""Live updates: a message bus and server-sent events to the operators' open pages."""
