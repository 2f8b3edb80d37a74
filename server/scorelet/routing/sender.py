"""Sending one message to one destination over HTTP, and saying how it went.

Every request goes to the address the SSRF check passed (ssrf.py), with the
URL's host kept for the Host header and TLS; redirects are never followed
(a 3xx is a failure: the destination should name the final URL); the whole
exchange, body included, is bounded by one timeout of at most 15 s, so a
receiver that trickles bytes can't hold a sender longer either.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scorelet import __version__
from scorelet.routing import messages, ssrf
from scorelet.routing.destinations import Destination
from scorelet.routing.retries import MAX_TIMEOUT, parse_retry_after
from scorelet.store.records import IssueLink

if TYPE_CHECKING:
    import httpx

MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read
USER_AGENT = f"Scorelet/{__version__}"


@dataclass(frozen=True, slots=True)
class Answer:
    """What came back: ok, or the error with what the receiver said."""

    ok: bool
    status: int | None = None
    body: str = ""
    error: str | None = None
    retry_after: float | None = None
    gone: bool = False  # 410: the receiver is gone for good
    issue: IssueLink | None = None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks: `v1,` and base64 HMAC-SHA256 of `id.timestamp.body`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


class Sender:
    def __init__(self, allow_private: bool, timeout: float = MAX_TIMEOUT) -> None:
        import httpx  # here, not at the top: every `scorelet` command would pay for it

        self._httpx = httpx
        self.allow_private = allow_private
        self.timeout = min(timeout, MAX_TIMEOUT)
        self._client: httpx.AsyncClient = httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.timeout),
            headers={"user-agent": USER_AGENT},
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def post(
        self, url: str, body: bytes, headers: Mapping[str, str], now: float
    ) -> tuple[Answer, Any]:
        """POST `body` to `url` through the SSRF check; the answer and its JSON (if any)."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self._post(url, body, headers, now)
        except TimeoutError:
            return Answer(False, error=f"no answer within {self.timeout:g} s"), None

    async def _post(
        self, url: str, body: bytes, headers: Mapping[str, str], now: float
    ) -> tuple[Answer, Any]:
        try:
            target = await ssrf.target(url, self.allow_private)
        except ssrf.AddressRefused as error:
            return Answer(False, error=str(error)), None
        request = self._client.build_request(
            "POST",
            target.url,
            content=body,
            headers={"host": target.host_header, "content-type": "application/json", **headers},
            extensions={"sni_hostname": target.host} if url.startswith("https:") else {},
        )
        try:
            response = await self._client.send(request, stream=True)
            try:
                raw = b""
                async for chunk in response.aiter_bytes():
                    raw += chunk
                    if len(raw) >= MAX_ANSWER:
                        break
            finally:
                await response.aclose()
        except self._httpx.TimeoutException:
            return Answer(False, error=f"no answer within {self.timeout:g} s"), None
        except self._httpx.HTTPError as error:
            return Answer(False, error=f"can't connect: {error or type(error).__name__}"), None
        text = raw[:MAX_ANSWER].decode("utf-8", "replace")
        status = response.status_code
        answer = classify(status, text, response.headers.get("retry-after"), now)
        try:
            data = json.loads(text) if text else None
        except ValueError:
            data = None
        return answer, data

    # -- per kind -----------------------------------------------------------------------------

    async def deliver(
        self,
        destination: Destination,
        delivery_id: str,
        message: Mapping[str, Any],
        now: float,
        lookup_first: bool = False,
    ) -> Answer:
        """Send a message built by `messages` (its shape depends on the destination's kind)."""
        if destination.kind == "webhook":
            return await self.webhook(destination, delivery_id, message, now)
        if destination.kind == "linear":
            return await self.linear(destination, delivery_id, message, now, lookup_first)
        body = json.dumps(message, ensure_ascii=False).encode()
        answer, _ = await self.post(destination.url, body, {}, now)
        return answer

    async def webhook(
        self, destination: Destination, delivery_id: str, message: Mapping[str, Any], now: float
    ) -> Answer:
        assert destination.secret is not None
        body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(now)
        headers = {
            "webhook-id": delivery_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(destination.secret, delivery_id, timestamp, body),
        }
        answer, _ = await self.post(destination.url, body, headers, now)
        return answer

    async def graphql(
        self, destination: Destination, query: str, variables: Mapping[str, Any], now: float
    ) -> tuple[Answer, Any]:
        """One GraphQL call; a 200 that carries `errors` is a failure too."""
        assert destination.secret is not None
        body = json.dumps({"query": query, "variables": variables}).encode()
        answer, data = await self.post(
            destination.url, body, {"authorization": destination.secret}, now
        )
        if answer.ok and (not isinstance(data, dict) or data.get("errors")):
            errors = data.get("errors") if isinstance(data, dict) else None
            detail = "; ".join(
                str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors or []
            )
            return (
                Answer(False, answer.status, answer.body, f"Linear: {detail or 'no data'}"),
                data,
            )
        return answer, data

    async def linear(
        self,
        destination: Destination,
        delivery_id: str,
        message: Mapping[str, Any],
        now: float,
        lookup_first: bool,
    ) -> Answer:
        """issueCreate with an id derived from the delivery's: a retry finds the issue an
        earlier attempt made (its answer may have been lost) instead of making another."""
        issue_id = messages.linear_issue_id(delivery_id)
        if lookup_first:
            found = await self._find_issue(destination, issue_id, now)
            if found is not None:
                return found
        variables = dict(message)
        labels = variables.pop("labels", [])
        if labels:
            answer, data = await self.graphql(destination, messages.LABELS, {"names": labels}, now)
            if not answer.ok:
                return answer
            nodes = ((data.get("data") or {}).get("issueLabels") or {}).get("nodes") or []
            ids = {node["name"]: node["id"] for node in nodes}
            missing = [name for name in labels if name not in ids]
            if missing:
                return Answer(False, answer.status, error=f"Linear has no label {missing[0]!r}")
            variables["labelIds"] = [ids[name] for name in labels]
        answer, data = await self.graphql(
            destination, messages.ISSUE_CREATE, {"input": variables}, now
        )
        if answer.ok:
            issue = ((data.get("data") or {}).get("issueCreate") or {}).get("issue")
            if issue:
                return _issue_answer(destination, answer, issue)
            return Answer(False, answer.status, answer.body, "Linear: issueCreate failed")
        if answer.status == 200 or answer.status == 400:  # maybe "already exists": look
            found = await self._find_issue(destination, issue_id, now)
            if found is not None:
                return found
        return answer

    async def _find_issue(
        self, destination: Destination, issue_id: str, now: float
    ) -> Answer | None:
        answer, data = await self.graphql(destination, messages.ISSUE_LOOKUP, {"id": issue_id}, now)
        issue = (data.get("data") or {}).get("issue") if isinstance(data, dict) else None
        if answer.ok and issue:
            return _issue_answer(destination, answer, issue)
        return None


def _issue_answer(destination: Destination, answer: Answer, issue: Mapping[str, Any]) -> Answer:
    link = IssueLink(destination.name, str(issue["identifier"]), str(issue["url"]))
    return Answer(True, answer.status, answer.body, issue=link)


def classify(status: int, text: str, retry_after: str | None, now: float) -> Answer:
    """2xx is delivered; 410 disables the destination; anything else is a failure."""
    body = text[:500]
    if 200 <= status < 300:
        return Answer(True, status, body)
    if 300 <= status < 400:
        return Answer(
            False,
            status,
            body,
            f"HTTP {status}: redirects are not followed; give the destination its final URL",
        )
    if status == 410:
        return Answer(False, status, body, "HTTP 410: the receiver is gone", gone=True)
    wait = parse_retry_after(retry_after, now) if status in (429, 503) else None
    return Answer(False, status, body, f"HTTP {status}: {body[:200]}".strip(), wait)
