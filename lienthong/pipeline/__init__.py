"""The path of one record: extract (pull + stage) → transform (map + outbox) → deliver."""
