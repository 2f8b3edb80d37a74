"""A `scorelet` command that starts in milliseconds, for tests that run many of them.

Importing the package takes most of a second, and a docs page runs dozens of
commands. `python preloaded.py SOCKET` imports `scorelet.cli` once and then,
for each connection on the Unix socket SOCKET, forks a child that runs
`scorelet.cli.main` (the console script's entry point) with the caller's
arguments, working directory, environment and its stdin, stdout and stderr
(passed over the socket), and answers the exit status. `client(SOCKET)` is
the tiny `scorelet` executable that connects to it: only the standard
library, started without site-packages.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

CLIENT = """\
import json, os, socket, sys
conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
conn.connect({socket!r})
socket.send_fds(conn, [b"!"], [0, 1, 2])
request = {{"argv": sys.argv[1:], "cwd": os.getcwd(), "env": dict(os.environ)}}
conn.sendall(json.dumps(request).encode())
conn.shutdown(socket.SHUT_WR)
answer = b""
while chunk := conn.recv(64):
    answer += chunk
sys.exit(int(answer or b"1"))
"""


def client(sock: Path, bin_dir: Path) -> Path:
    """Write the `scorelet` executable that runs commands on the server at `sock`."""
    script = bin_dir / "scorelet"
    source = CLIENT.format(socket=str(sock))
    script.write_text(f"#!{sys.executable} -S\n{source}")
    script.chmod(0o755)
    return script


def run(request: dict[str, object], fds: list[int], conn: socket.socket) -> None:
    """In the forked child: become the caller's `scorelet` and answer its exit status."""
    from scorelet.cli import main

    for number, fd in enumerate(fds):
        os.dup2(fd, number)
    os.chdir(str(request["cwd"]))
    env = request["env"]
    assert isinstance(env, dict)
    os.environ.clear()
    os.environ.update(env)
    argv = request["argv"]
    assert isinstance(argv, list)
    sys.argv = ["scorelet", *argv]
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    conn.sendall(str(status).encode())
    os._exit(0)


def serve(path: str) -> None:
    import scorelet.cli  # noqa: F401  (the point: import once, fork many times)

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(8)
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1, 3)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        if os.fork() == 0:
            server.close()
            run(json.loads(data), fds, conn)
        for fd in fds:
            os.close(fd)
        conn.close()
        while True:  # reap the children that have finished
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break


if __name__ == "__main__":
    serve(sys.argv[1])
