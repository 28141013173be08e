"""A grpcio server on ``127.0.0.1:<free port>`` (plaintext), shared by the OTLP test receivers."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc  # type: ignore[import-untyped]


class LoopbackGrpcServer:
    """Started by the constructor: ``register(server)`` adds the services first."""

    def __init__(self, register: Callable[[Any], None], thread_name_prefix: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix=thread_name_prefix)
        self._server = grpc.server(self._executor)
        register(self._server)
        self.port = int(self._server.add_insecure_port("127.0.0.1:0"))
        if self.port == 0:
            raise OSError("grpc could not bind 127.0.0.1")
        self._server.start()

    @property
    def endpoint(self) -> str:
        """What a gRPC OTLP exporter takes as ``endpoint`` (plaintext, from ``http://``)."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self, grace: float) -> None:
        """Stop serving (in-flight calls get ``grace`` seconds) and the worker threads."""
        self._server.stop(grace=grace).wait(timeout=grace + 5.0)
        self._executor.shutdown(wait=True)
