"""A support chat that asks for a rating when the conversation ends: Scorelet plus a tiny backend.

    .venv/bin/python examples/support-chat/app.py

(the clone's virtual environment, which ./scripts/serve makes) starts two
servers in one process: Scorelet itself (on a fresh data directory unless
--data is given, on a free port unless --port is) and a pretend chat backend
with a page showing a transcript. Press "End chat" and the backend mints a subject token for that
conversation and its agent (`scorelet.mint_token`, no network call needed);
the page mounts the rating widget in the transcript. The page also shows the
hosted-page link an email would carry, and the agents' live scores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.request import Request as HttpRequest
from urllib.request import urlopen

try:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Route

    from scorelet import Settings, create_app, mint_token
    from scorelet.config import resolve_secrets
    from scorelet.datadir import DataDirError, ensure, initialize
    from scorelet.instance import AlreadyServing, Claim, ListenError, listen
    from scorelet.store import Store
except ModuleNotFoundError as missing:
    raise SystemExit(
        f"this example needs Scorelet installed ({missing.name} is missing here): run it with"
        " the clone's virtual environment, `.venv/bin/python examples/support-chat/app.py`"
        " (./scripts/serve creates .venv), or `pip install .` first"
    ) from None

HERE = Path(__file__).parent
TOUCHPOINT = "support-chat"
AGENTS = ("alice", "bob", "carol")


async def prepare(data_dir: Path) -> str:
    """Create the touchpoint once and a read key for the stats panel; returns the key."""
    store = await Store.open(data_dir / "scorelet.sqlite3")
    try:
        if store.touchpoint(TOUCHPOINT) is None:
            await store.create_touchpoint(
                {
                    "slug": TOUCHPOINT,
                    "metric": "csat",
                    "scale": "stars",
                    "question": "How did we do in this chat?",
                    "comment_prompts": {
                        "low": "What could we have done better?",
                        "neutral": "What would have made this chat better?",
                        "high": "What did you like about this chat?",
                    },
                    "satisfied_from": 4,
                }
            )
        _, key = await store.create_api_key("read", "support-chat example")
    finally:
        await store.close()
    return key


def chat_app(scorelet_url: str, secret: str, read_key: str) -> Starlette:
    """The pretend chat backend: the page, "end chat" (mints a token), and agent stats."""

    async def index(request: Request) -> Response:
        page = (HERE / "chat.html").read_text(encoding="utf-8")
        agents = "".join(f'<option value="{a}">{a.title()}</option>' for a in AGENTS)
        page = page.replace("{{SCORELET}}", scorelet_url).replace("{{AGENTS}}", agents)
        return HTMLResponse(page)

    async def script(request: Request) -> Response:
        return Response((HERE / "chat.js").read_bytes(), media_type="text/javascript")

    async def end_chat(request: Request) -> Response:
        body = await request.json()
        agent = body.get("agent") if body.get("agent") in AGENTS else AGENTS[0]
        conversation = f"conv_{uuid.uuid4().hex[:8]}"
        # The one Scorelet call a chat backend makes: a token for this conversation.
        token = mint_token(
            TOUCHPOINT,
            conversation,
            context={"agent": agent, "channel": "web"},
            ttl="14d",
            secret=secret,
        )
        return JSONResponse(
            {
                "conversation": conversation,
                "agent": agent,
                "token": token,
                "rating_url": f"{scorelet_url}/r/{token}",
            }
        )

    async def stats(request: Request) -> Response:
        scores = await asyncio.to_thread(agent_scores, scorelet_url, read_key)
        return JSONResponse({"agents": scores})

    return Starlette(
        routes=[
            Route("/", index),
            Route("/chat.js", script),
            Route("/end-chat", end_chat, methods=["POST"]),
            Route("/stats", stats),
        ]
    )


def agent_scores(scorelet_url: str, read_key: str) -> dict[str, Any]:
    """Each agent's CSAT, through the read API (what a dashboard would poll)."""
    scores = {}
    for agent in AGENTS:
        url = f"{scorelet_url}/api/v1/touchpoints/{TOUCHPOINT}/score?agent={agent}"
        request = HttpRequest(url, headers={"Authorization": f"Bearer {read_key}"})
        with urlopen(request, timeout=5) as response:
            body = json.load(response)
        scores[agent] = {"score": body["score"], "responses": body["responses"]}
    return scores


class QuietServer(uvicorn.Server):
    """Two servers share one loop; `main` handles Ctrl-C for both."""

    def install_signal_handlers(self) -> None:
        pass


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data or tempfile.mkdtemp(prefix="scorelet-chat-"))
    ensure(data_dir)
    claim = Claim(data_dir)  # one server per data directory, as `scorelet serve` does
    settings = Settings(data_dir=data_dir, host=args.host, port=args.port)
    await initialize(settings, demos=False)
    read_key = await prepare(data_dir)
    scorelet_socket = listen(args.host, args.port)
    try:
        chat_socket = listen(args.host, args.chat_port)
    except ListenError:
        raise SystemExit(
            f"support-chat example: can't serve the chat page on port {args.chat_port} (in use?);"
            " choose another with --chat-port N"
        ) from None
    settings = resolve_secrets(settings).with_overrides(port=scorelet_socket.getsockname()[1])
    claim.publish(settings.base_url)  # so `scorelet ... --data DIR` prints this server's URL
    scorelet_url = settings.base_url
    chat_url = f"http://{args.host}:{chat_socket.getsockname()[1]}"
    servers = [
        QuietServer(uvicorn.Config(create_app(settings), log_level="warning")),
        QuietServer(
            uvicorn.Config(
                chat_app(scorelet_url, settings.secrets[0], read_key), log_level="warning"
            )
        ),
    ]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s in servers])
    print(f"Scorelet:     {scorelet_url}   (data in {data_dir})")
    print(f"Support chat: {chat_url}   <- open this, then press 'End chat'", flush=True)
    try:
        sockets = (scorelet_socket, chat_socket)
        pairs = zip(servers, sockets, strict=True)
        await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in pairs))
    finally:
        claim.release()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Scorelet's support-chat example.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="Scorelet's port (default: a free one)")
    parser.add_argument("--chat-port", type=int, default=8001, help="the chat page's port (8001)")
    parser.add_argument("--data", help="Scorelet data directory (default: a new temporary one)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    try:
        asyncio.run(main(parse()))
    except (DataDirError, AlreadyServing, ListenError) as error:
        raise SystemExit(f"support-chat example: {error}") from None
