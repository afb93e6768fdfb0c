"""The JSON-RPC protocol of the server: pygls's, with an answer for every request it would drop.

pygls logs and drops a request whose params do not fit the method's types, a request that is
not JSON-RPC 2.0, and any request after ``shutdown``: the editor would then wait for a reply
forever. Here each gets an error reply (InvalidParams / InvalidRequest), as JSON-RPC and LSP
ask, and the server goes on. An error a handler raises on purpose is answered without the
traceback pygls would log.
"""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol.types import EXIT
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)


def _is_request(data: Any) -> bool:
    return isinstance(data, dict) and "method" in data and isinstance(data.get("id"), int | str)


class CounterpointProtocol(LanguageServerProtocol):
    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if _is_request(data):
                self._send_response(data["id"], error=exc.to_response_error())
            raise
        except Exception as exc:  # anything else structuring raised: still an answer
            if _is_request(data):
                self._send_response(data["id"], error=JsonRpcInternalError(str(exc)).to_response_error())
            raise

    def _send_handler_result(self, future: Any, *, msg_id: Any) -> None:
        # A JSON-RPC error raised by a handler is an answer (a refused run, bad params), not a
        # crash: the handler logs its one line; pygls would add a full traceback.
        if not future.cancelled() and isinstance(exc := future.exception(), JsonRpcException):
            self._request_futures.pop(msg_id, None)
            log.debug("request %s answered with error %s: %s", msg_id, exc.code, exc.message)
            self._send_response(msg_id, error=exc.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, dict):  # no "jsonrpc" member: not a JSON-RPC 2.0 message
            if _is_request(message):
                self._send_response(
                    message["id"],
                    error=JsonRpcInvalidRequest("not a JSON-RPC 2.0 request").to_response_error(),
                )
            log.warning("ignored a message that is not JSON-RPC 2.0")
            return
        method = getattr(message, "method", None)
        request_id = getattr(message, "id", None)
        if method is not None and request_id is not None:
            if getattr(message, "jsonrpc", None) != "2.0":
                self._send_response(
                    request_id, error=JsonRpcInvalidRequest("not a JSON-RPC 2.0 request").to_response_error()
                )
                return
            if self._shutdown and method != EXIT:
                self._send_response(
                    request_id,
                    error=JsonRpcInvalidRequest(f"{method}: the server is shutting down").to_response_error(),
                )
                return
        super().handle_message(message)
