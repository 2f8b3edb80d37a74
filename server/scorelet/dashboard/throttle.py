"""Sign-in attempts, limited per account and per address against password guessing.

Failed attempts drain a token bucket per account and one per client address
(limits.py's buckets and its reading of trusted proxies); while either is
empty, sign-ins for it are refused before any password is checked, with the
wait in the message. Successful sign-ins cost nothing. The buckets live in
this process's memory: each Scorelet process counts on its own, and a
restart forgives everyone.
"""

from __future__ import annotations

import math
import time

from scorelet.limits import Buckets, Rate

# Five wrong passwords in a row, then one more a minute, per account.
PER_ACCOUNT = Rate(per_second=1 / 60, burst=5)
# Twenty from one address (a shared office), then one more every 15 seconds.
PER_ADDRESS = Rate(per_second=1 / 15, burst=20)


class SignInThrottle:
    def __init__(self, per_account: Rate = PER_ACCOUNT, per_address: Rate = PER_ADDRESS) -> None:
        self.accounts = Buckets(per_account, 10_000)
        self.addresses = Buckets(per_address, 10_000)

    def refusal(self, email: str, ip: str) -> str | None:
        """Why a sign-in may not be tried now, or None."""
        now = time.monotonic()
        account, address = self.accounts.wait(email, now), self.addresses.wait(ip, now)
        if account:
            return (
                f"Too many wrong passwords for {email}. Wait {_minutes(account)} and try again,"
                " or ask an admin for a new link (scorelet user reset EMAIL)."
            )
        if address:
            return f"Too many sign-in attempts from your network. Wait {_minutes(address)}."
        return None

    def failed(self, email: str, ip: str) -> None:
        now = time.monotonic()
        self.accounts.take(email, now)
        self.addresses.take(ip, now)


def _minutes(seconds: float) -> str:
    if seconds < 60:
        return f"{math.ceil(seconds)} seconds"
    minutes = math.ceil(seconds / 60)
    return "1 minute" if minutes == 1 else f"{minutes} minutes"
