"""Closing the loop: tagging and notify rules, destinations, and the delivery worker.

`rules`, `tags`, `ssrf`, `retries`, `messages` and `periods` are pure (no I/O);
`sender` makes the HTTP requests, `worker` runs the outbox inside `scorelet
serve`, `digests` queues the periodic summaries.
"""
