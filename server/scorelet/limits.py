"""Rate limits on the public endpoints: per client IP and per touchpoint.

Token buckets in a dict, checked on the event loop with no I/O: a check is a
clock read, a dict lookup and a little arithmetic. Memory is bounded: when a
table is full, buckets that have refilled (idle clients) are dropped first,
then the oldest. Dropping a bucket only ever forgives a client, never blocks
one, so a flood of fresh addresses can't lock anybody out.

The per-IP limit runs in `Guard` (api/middleware/guard.py), in front of the public
paths, before any body is read. The per-touchpoint limit needs the verified
token, so the use cases (ratings.py) check it once they have one.

The client's address is the TCP peer, or, when the peer is a trusted proxy
(SCORELET_TRUSTED_PROXIES), the rightmost untrusted X-Forwarded-For entry:
entries left of it were written by the client and can't be believed.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from starlette.types import Scope

from scorelet.errors import Problem

MAX_BUCKETS = 100_000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` sustained, bursts of up to `burst` requests."""

    per_second: float
    burst: int


class Buckets:
    """Token buckets keyed by string; `take` answers 0.0 or the seconds to wait."""

    def __init__(self, rate: Rate, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now: float) -> float:
        rate = self.rate
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_buckets:
                self._evict(now)
            self._buckets[key] = (rate.burst - 1.0, now)
            return 0.0
        tokens = min(rate.burst, bucket[0] + (now - bucket[1]) * rate.per_second)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate.per_second
        self._buckets[key] = (tokens - 1.0, now)
        return 0.0

    def wait(self, key: str, now: float) -> float:
        """Seconds until `key` may take again (0.0: now), taking nothing."""
        bucket = self._buckets.get(key)
        if bucket is None:
            return 0.0
        tokens = min(self.rate.burst, bucket[0] + (now - bucket[1]) * self.rate.per_second)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate.per_second

    def _evict(self, now: float) -> None:
        """Drop refilled buckets; if none are, drop the oldest tenth."""
        full_after = self.rate.burst / self.rate.per_second
        idle = [k for k, (_, at) in self._buckets.items() if now - at >= full_after]
        for key in idle:
            del self._buckets[key]
        if len(self._buckets) >= self.max_buckets:
            for key in list(self._buckets)[: max(1, self.max_buckets // 10)]:
                del self._buckets[key]


def rate_limited(wait: float, what: str) -> Problem:
    seconds = max(1, math.ceil(wait))
    return Problem(
        429,
        "rate_limited",
        f"too many requests {what}; try again in {seconds} s",
        headers={"Retry-After": str(seconds)},
    )


class Limits:
    """The limiter shared by the middleware (per IP) and the handlers (per touchpoint)."""

    def __init__(
        self,
        per_ip: Rate,
        per_touchpoint: Rate,
        trusted_proxies: Iterable[str] = (),
        enabled: bool = True,
        max_buckets: int = MAX_BUCKETS,
    ) -> None:
        self.enabled = enabled
        self.ips = Buckets(per_ip, max_buckets)
        self.touchpoints = Buckets(per_touchpoint, max_buckets)
        self.trusted = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in trusted_proxies)
        self._is_trusted = lru_cache(maxsize=1024)(self._trusted)

    def check_ip(self, ip: str) -> None:
        if self.enabled and (wait := self.ips.take(ip, time.monotonic())):
            raise rate_limited(wait, "from this address")

    def check_touchpoint(self, touchpoint_id: int) -> None:
        if self.enabled and (wait := self.touchpoints.take(str(touchpoint_id), time.monotonic())):
            raise rate_limited(wait, "for this touchpoint")

    def client_ip(self, scope: Scope) -> str:
        peer = scope.get("client")
        ip = peer[0] if peer else "unknown"
        if not self.trusted or not self._is_trusted(ip):
            return ip
        forwarded = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-for"]
        hops = [hop.strip() for hop in ",".join(forwarded).split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop[:64]
        return hops[0][:64] if hops else ip

    def https(self, scope: Scope) -> bool:
        """Whether the browser spoke TLS: to us, or to a trusted proxy that says so in
        X-Forwarded-Proto (the last value: the one that proxy wrote)."""
        if scope.get("scheme") in ("https", "wss"):
            return True
        peer = scope.get("client")
        if not peer or not self.trusted or not self._is_trusted(peer[0]):
            return False
        protos = [v.decode("latin-1") for k, v in scope["headers"] if k == b"x-forwarded-proto"]
        last = ",".join(protos).split(",")[-1].strip().lower() if protos else ""
        return last == "https"

    def _trusted(self, ip: str) -> bool:
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:  # a garbled X-Forwarded-For entry is nobody we trust
            return False
        return any(address in network for network in self.trusted)
