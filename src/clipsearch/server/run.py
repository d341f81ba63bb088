"""Running the application under uvicorn (what `clipsearch serve` calls)."""

from __future__ import annotations

import sys

import uvicorn

from clipsearch.server.app import make_app

#: Hosts that only this machine can reach: the only ones allowed without a token.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def serve(index_dir: str, *, host: str = "127.0.0.1", port: int = 8765, token: str | None) -> None:
    """Open the index, serve until Ctrl-C or SIGTERM (uvicorn finishes the requests in
    flight), then close the index."""
    app = make_app(index_dir, token=token)
    shown = f"[{host}]" if ":" in host else host
    suffix = "/?token=..." if token else "/"
    print(f"clipsearch: serving {index_dir} on http://{shown}:{port}{suffix}", file=sys.stderr)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", server_header=False
    )
    uvicorn.Server(config).run()
