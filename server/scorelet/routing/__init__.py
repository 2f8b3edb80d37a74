"""Closing the loop: tagging and notify rules, destinations, and the delivery worker.

`rules`, `table`, `tags`, `destinations`, `retries`, `messages` and `periods`
are pure (no I/O). `ssrf` checks where a URL resolves to, `sender` makes the
HTTP requests, `admin` holds the use cases (API and CLI alike), and `worker`
runs the outbox and the digests inside `scorelet serve`.
"""
