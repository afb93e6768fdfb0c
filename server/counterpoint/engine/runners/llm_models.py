"""Models and roles of LLM agents: which endpoint and key, and what a Claude Code subagent says.

Endpoints and keys come only from user-level settings (``options["llm_settings"]``:
``openai_base_url``, ``openai_api_key``, ``anthropic_base_url``, ``anthropic_api_key``,
``max_retries``, ``timeout``) or the standard environment variables (``OPENAI_BASE_URL``,
``OPENAI_API_KEY``, ``ANTHROPIC_BASE_URL``, ``ANTHROPIC_API_KEY``); never from the spec or the
workspace. A local endpoint (loopback, private network, ``localhost``) may go without a key.

Transient errors (429 honouring ``retry-after``, 408/409, 5xx, timeouts, dropped connections)
are retried with exponential backoff by the providers' own SDK clients (``max_retries``);
what is left when they give up becomes an `AgentFailed` with a message saying what to do.

Roles: ``role: <name>`` reads ``.claude/agents/<name>.md`` under the workspace root (YAML
front matter ``name``, ``description``, ``tools``, ``model``; the body is the prompt).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from counterpoint.engine.runners.base import AgentFailed

PROVIDERS = {
    "openai": ("OPENAI_BASE_URL", "OPENAI_API_KEY"),
    "anthropic": ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY"),
}
LOCAL_DUMMY_KEY = "counterpoint-local"
DEFAULT_MAX_RETRIES = 4
DEFAULT_TIMEOUT_S = 300.0
CLAUDE_ALIASES = {
    "sonnet": "anthropic:claude-sonnet-4-6",
    "opus": "anthropic:claude-opus-4-5",
    "haiku": "anthropic:claude-haiku-4-5",
}
TOOL_NAMES = (
    "read_file",
    "list_files",
    "search",
    "write_file",
    "edit_file",
    "run_command",
    "emit_signal",
    "wait_for_signal",
)
"""Every tool an LLM agent can get (`llm_tools.make_tools` builds them), in the order offered."""
CLAUDE_TOOL_NAMES = {
    "read": ("read_file",),
    "write": ("write_file",),
    "edit": ("edit_file",),
    "multiedit": ("edit_file",),
    "grep": ("search",),
    "glob": ("list_files",),
    "ls": ("list_files",),
    "bash": ("run_command",),
}
"""Claude Code tool names (lower case) -> our tools."""


@dataclass(frozen=True)
class Endpoint:
    provider: str
    model_name: str
    base_url: str | None
    api_key: str
    key_variable: str
    max_retries: int
    timeout: float

    @property
    def qualified(self) -> str:
        return f"{self.provider}:{self.model_name}"


def is_local(url: str | None) -> bool:
    """True for endpoints on this machine or a private network (Ollama, vLLM, llama.cpp...)."""
    host = urlparse(url or "").hostname or ""
    if host == "localhost" or host.endswith(".local") or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private


def resolve_endpoint(model: str | None, settings: dict[str, Any] | None) -> Endpoint:
    """Where ``provider:name`` is served and with which key; AgentFailed if it cannot be used."""
    if not model:
        raise AgentFailed("llm runner needs `model:` (openai:<name> or anthropic:<name>)")
    provider, sep, name = model.partition(":")
    if not sep or provider not in PROVIDERS or not name:
        raise AgentFailed(f"model {model!r}: write openai:<name> or anthropic:<name>")
    settings = settings or {}
    url_var, key_var = PROVIDERS[provider]
    base_url = settings.get(f"{provider}_base_url") or os.environ.get(url_var) or None
    api_key = settings.get(f"{provider}_api_key") or os.environ.get(key_var) or ""
    if not api_key:
        if base_url and is_local(base_url):
            api_key = LOCAL_DUMMY_KEY
        else:
            where = f" for {base_url}" if base_url else ""
            raise AgentFailed(
                f"no API key for {model}{where}: set {key_var} in the environment of the CLI "
                f"or the server (or {provider}_api_key in your user settings)"
            )
    return Endpoint(
        provider=provider,
        model_name=name,
        base_url=str(base_url) if base_url else None,
        api_key=str(api_key),
        key_variable=key_var,
        max_retries=int(settings.get("max_retries", DEFAULT_MAX_RETRIES)),
        timeout=float(settings.get("timeout", DEFAULT_TIMEOUT_S)),
    )


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every agent's HTTP client (making one costs ~20 ms of CPU)."""
    import httpx2

    return httpx2.create_ssl_context()


def build_model(endpoint: Endpoint) -> tuple[Any, Any]:
    """A pydantic-ai model for the endpoint and its SDK client (which retries transient errors).

    The caller closes the client (``await client.close()``) when the agent ends.
    """
    if endpoint.provider == "openai":
        from openai import AsyncOpenAI, DefaultAsyncHttpxClient
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider

        openai_client = AsyncOpenAI(
            base_url=endpoint.base_url,
            api_key=endpoint.api_key,
            max_retries=endpoint.max_retries,
            timeout=endpoint.timeout,
            http_client=DefaultAsyncHttpxClient(verify=shared_ssl_context()),
        )
        provider = OpenAIProvider(openai_client=openai_client)
        return OpenAIChatModel(endpoint.model_name, provider=provider), openai_client
    from anthropic import AsyncAnthropic
    from anthropic import DefaultAsyncHttpxClient as AnthropicHttpxClient
    from pydantic_ai.models.anthropic import AnthropicModel
    from pydantic_ai.providers.anthropic import AnthropicProvider

    anthropic_client = AsyncAnthropic(
        base_url=endpoint.base_url,
        api_key=endpoint.api_key,
        max_retries=endpoint.max_retries,
        timeout=endpoint.timeout,
        http_client=AnthropicHttpxClient(verify=shared_ssl_context()),
    )
    anthropic_provider = AnthropicProvider(anthropic_client=anthropic_client)
    return AnthropicModel(endpoint.model_name, provider=anthropic_provider), anthropic_client


def explain_model_error(exc: Exception, endpoint: Endpoint) -> AgentFailed:
    """A clear message for an error the SDK did not retry away (or gave up on)."""
    from pydantic_ai.exceptions import ModelAPIError, ModelHTTPError

    where = endpoint.base_url or f"the default {endpoint.provider} endpoint"
    if isinstance(exc, ModelHTTPError):
        status = exc.status_code
        if status in (401, 403):
            return AgentFailed(
                f"{endpoint.qualified}: the endpoint refused the API key ({status}) at {where}: "
                f"set {endpoint.key_variable} (or {endpoint.provider}_api_key in your user "
                "settings) to a valid key"
            )
        if status == 404:
            return AgentFailed(
                f"{endpoint.qualified}: not found at {where} (404): check the model name and the URL"
            )
        if status == 429 or status >= 500:
            return AgentFailed(
                f"{endpoint.qualified}: {status} from {where} after {endpoint.max_retries} "
                f"retries: {_body(exc.body)}"
            )
        return AgentFailed(f"{endpoint.qualified}: {status} from {where}: {_body(exc.body)}")
    if isinstance(exc, ModelAPIError):
        return AgentFailed(
            f"{endpoint.qualified}: cannot reach {where} after {endpoint.max_retries} "
            f"retries ({exc.message}); "
            f"check {PROVIDERS[endpoint.provider][0]}"
        )
    return AgentFailed(f"{endpoint.qualified}: {type(exc).__name__}: {exc}")


def _body(body: object) -> str:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])[:300]
    return str(body)[:300]


# -- roles ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    prompt: str
    tools: tuple[str, ...] | None
    """Our tool names the role may use (None: all); emit/wait for signals are always given."""
    model: str | None
    unknown_tools: tuple[str, ...] = ()


def parse_role(text: str, name: str) -> Role:
    front: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        head, sep, rest = text[3:].partition("\n---")
        if sep:
            loaded = yaml.safe_load(head) or {}
            front = loaded if isinstance(loaded, dict) else {}
            body = rest.partition("\n")[2]
    tools: tuple[str, ...] | None = None
    unknown: list[str] = []
    raw_tools = front.get("tools")
    if raw_tools:
        items = raw_tools if isinstance(raw_tools, list) else str(raw_tools).split(",")
        mapped: list[str] = []
        for item in (str(i).strip() for i in items):
            ours = CLAUDE_TOOL_NAMES.get(item.lower()) or ((item,) if item in TOOL_NAMES else ())
            if not ours:
                unknown.append(item)
            mapped.extend(t for t in ours if t not in mapped)
        tools = tuple(mapped)
    model = front.get("model")
    model_name = None if not model or model == "inherit" else CLAUDE_ALIASES.get(str(model), str(model))
    return Role(
        name=str(front.get("name") or name),
        description=str(front.get("description") or ""),
        prompt=body.strip(),
        tools=tools,
        model=model_name if model_name and ":" in model_name else None,
        unknown_tools=tuple(unknown),
    )


def load_role(workspace_root: Path, name: str) -> Role:
    """The Claude Code subagent ``.claude/agents/<name>.md``; AgentFailed if it is missing."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise AgentFailed(f"role {name!r}: not a valid role name")
    path = workspace_root / ".claude" / "agents" / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError as exc:
        raise AgentFailed(f"role {name!r}: {path} not found") from exc
    try:
        return parse_role(text, name)
    except yaml.YAMLError as exc:
        raise AgentFailed(f"role {name!r}: the front matter of {path} is not valid YAML ({exc})") from exc
