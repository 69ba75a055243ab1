"""Work: tasks, their typed payloads, messages, attachments, and the work index."""
