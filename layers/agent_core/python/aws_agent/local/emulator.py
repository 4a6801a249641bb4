"""The embedded AWS: moto's server in this process, executing Step Functions and routing Lambda to our handlers."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
import traceback
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

LambdaHandler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that Powertools and our handlers read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = ""
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def load_handler(path: Path, module_name: str) -> LambdaHandler:
    """Import functions/<step>/handler.py under a unique name (every step's module is called `handler`)."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: LambdaHandler = module.handler
    return handler


class Emulator:
    """moto server on a free loopback port; Lambda invocations of registered functions run in-process."""

    def __init__(self, max_wait_seconds: float = 1.0, max_retry_seconds: float = 0.2) -> None:
        self.max_wait_seconds = max_wait_seconds
        self.max_retry_seconds = max_retry_seconds
        self.handlers: dict[str, LambdaHandler] = {}
        self.invocations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self.endpoint = ""

    def start(self) -> str:
        from moto.core.config import default_user_config
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        self._patch_moto()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        # The state-machine interpreter calls Lambda through moto's server on this port.
        os.environ["MOTO_PORT"] = str(port)
        self.endpoint = f"http://{host}:{port}"
        # moto's backends are process-wide: a new embedded AWS starts empty, whatever an earlier one left behind.
        urllib.request.urlopen(urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=30)
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def register(self, function_name: str, handler: LambdaHandler) -> None:
        self.handlers[function_name] = handler

    def invoke(self, function_name: str, payload: Any) -> tuple[bool, Any]:
        """Run a registered handler as Lambda would: (ok, result) or (False, Lambda's error payload)."""
        name = function_name.split(":function:")[-1].split(":")[0]
        handler = self.handlers[name]
        context = LambdaContext(
            function_name=name,
            invoked_function_arn=function_name if function_name.startswith("arn:") else name,
            aws_request_id=str(uuid.uuid4()),
        )
        with self._lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
        try:
            return True, handler(payload, context)
        except Exception as exc:  # a function error, reported like Lambda does: errorType is the class name
            return False, {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-5:],
            }

    def _patch_moto(self) -> None:
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

        emulator = self
        original_invoke = LambdaSimpleBackend.invoke

        def invoke(
            backend: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
        ) -> Any:
            name = function_name.split(":function:")[-1].split(":")[0]
            if name not in emulator.handlers:
                return original_invoke(backend, function_name, qualifier, body, headers, response_headers)
            payload = json.loads(body) if body else {}
            ok, result = emulator.invoke(name, payload)
            if not ok:
                response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(result, default=str).encode()

        LambdaSimpleBackend.invoke = invoke  # type: ignore[method-assign,assignment]

        # The definition is the deployed one; only the emulator's clock is compressed so waits and retry
        # backoffs take fractions of a second instead of minutes.
        original_wait = WaitFunction._wait_interval

        def short_wait(self: Any, env: Any, wait_seconds: int) -> None:
            original_wait(self, env, min(int(wait_seconds), max(1, int(emulator.max_wait_seconds))))

        WaitFunction._wait_interval = short_wait  # type: ignore[method-assign]

        class _FastTime:
            def __getattr__(self, name: str) -> Any:
                import time

                return getattr(time, name)

            def sleep(self, seconds: float) -> None:
                import time

                time.sleep(min(seconds, emulator.max_retry_seconds))

        retrier_decl.time = _FastTime()  # type: ignore[assignment]
        _serialize_dynamodb_writes()
        _patch_send_task_failure()
        logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)
        logging.getLogger("werkzeug").setLevel(logging.ERROR)


_DYNAMODB_LOCK = threading.RLock()


def _serialize_dynamodb_writes() -> None:
    """Make moto's DynamoDB writes atomic, as DynamoDB's are.

    moto checks a write's condition and then applies it as two steps, and TransactWriteItems deep-copies whole tables
    for its rollback. With the emulator's concurrent executions, two conditional writers could both win, and a copy
    could race a write (moto answers 500 "dictionary changed size during iteration"); hundreds of concurrent
    transactions also held hundreds of table copies at once. DynamoDB serializes writes per item; the emulator
    serializes them per process (scans and queries too, which iterate over the tables), which is stricter."""
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items", "scan", "query"):
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_emulator_serialized", False):
            continue

        def serialized(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with _DYNAMODB_LOCK:
                return _original(self, *args, **kwargs)

        serialized._emulator_serialized = True  # type: ignore[attr-defined]
        setattr(DynamoDBBackend, name, serialized)


def _patch_send_task_failure() -> None:
    """moto's SendTaskFailure handler drops `cause` (its interpreter accepts one): pass it on, as AWS does."""
    from moto.core.responses import EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> Any:
        self.stepfunction_backend.send_task_failure(
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    StepFunctionResponse.send_task_failure = send_task_failure  # type: ignore[method-assign]
