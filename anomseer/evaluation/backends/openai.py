"""OpenAI-compatible backend: ``POST {base_url}/chat/completions`` on any server that speaks the
chat-completions API (``vllm serve``, OpenAI, other hosted APIs).

The plot goes as a base64 PNG data URL, the key comes from an environment variable, requests
run with bounded concurrency and are retried with exponential backoff on timeouts, connection
errors, 408/409/429 and 5xx. A request that still fails becomes a failed sample (its error is
recorded), never a crash. Standard library only (``urllib``), so no extra is needed.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from anomseer.columns import MODEL_COLUMNS
from anomseer.errors import OptionError
from anomseer.evaluation.backends.base import (
    EvalRequest,
    Generation,
    PlotBackend,
    Sampling,
    require_model,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
RETRY_STATUS = frozenset({408, 409, 429})
MAX_BACKOFF_S = 60.0
ERROR_BODY_CHARS = 300


class RequestFailed(Exception):
    """One attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, message: str, retry: bool, wait: float | None = None) -> None:
        super().__init__(message)
        self.retry = retry
        self.wait = wait


def image_data_url(image: Any) -> str:
    """A PIL image as a ``data:image/png;base64,...`` URL."""
    from data_gen.render import png_bytes

    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


def chat_messages(prompt: Sequence[dict], image: Any) -> list[dict]:
    """The dataset's conversational prompt in the chat-completions format: each
    ``{"type": "image"}`` part becomes an ``image_url`` part holding the plot."""
    url = None
    messages = []
    for message in prompt:
        content = message["content"]
        if isinstance(content, str):
            messages.append({"role": message["role"], "content": content})
            continue
        parts = []
        for part in content:
            if part.get("type") == "image":
                url = url or image_data_url(image)
                parts.append({"type": "image_url", "image_url": {"url": url}})
            else:
                parts.append({"type": "text", "text": part.get("text") or ""})
        messages.append({"role": message["role"], "content": parts})
    return messages


def choice_text(choice: dict) -> str:
    """The text of one response choice (content as a string or as a list of text parts)."""
    content = (choice.get("message") or {}).get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


@dataclass(frozen=True)
class OpenAIOptions(Sampling):
    """Options of the openai backend: sampling (no seed is sent unless one is set), the server, the
    environment variable holding the API key, and how requests are spread and retried."""

    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout: float = 120.0
    max_retries: int = 4
    backoff: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        for option, value, floor, strict in (
            ("concurrency", self.concurrency, 1, False),
            ("max_retries", self.max_retries, 0, False),
            ("timeout", self.timeout, 0, True),
            ("backoff", self.backoff, 0, False),
        ):
            if value < floor or (strict and value == floor):
                bound = f"> {floor}" if strict else f">= {floor}"
                raise OptionError(f"$o must be {bound}, got {value}", o=option)


class OpenAIBackend(PlotBackend):
    """Completions from an OpenAI-compatible chat-completions server."""

    name: ClassVar[str] = "openai"
    columns: ClassVar[tuple[str, ...]] = MODEL_COLUMNS
    options: ClassVar[type[OpenAIOptions]] = OpenAIOptions
    default_batch_size: ClassVar[int] = 64

    def __init__(
        self, model: str | None, options: OpenAIOptions = OpenAIOptions(), check_server: bool = True
    ) -> None:
        self.model = require_model(self.name, model)
        self.sampling = options
        self.base_url = options.base_url.rstrip("/")
        self.api_key_env = options.api_key_env
        self.concurrency = options.concurrency
        self.timeout = options.timeout
        self.max_retries = options.max_retries
        self.backoff = options.backoff
        self._headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        if check_server:
            self.check_server()

    def settings(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url, **self.sampling.as_dict()}

    def check_server(self) -> None:
        """Fail with one clear line when the server cannot be reached or rejects the key."""
        request = urllib.request.Request(f"{self.base_url}/models", headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 10.0)):
                return
        except urllib.error.HTTPError as error:
            if error.code in (401, 403):
                raise OptionError(
                    f"the server at {self.base_url} rejected the API key (HTTP {error.code}); "
                    f"set the environment variable {self.api_key_env} or name another with $o",
                    o="api_key_env",
                ) from None
            return  # reachable; some servers simply do not list models
        except OSError as error:  # URLError, refused, unknown host, timeout
            reason = getattr(error, "reason", error)
            raise OptionError(
                f"cannot reach the OpenAI-compatible server at {self.base_url} ({reason}); "
                "start it (e.g. 'vllm serve MODEL') or fix $o",
                o="base_url",
            ) from None

    def payload(self, request: EvalRequest) -> dict[str, Any]:
        """The chat-completions request body for one dataset row."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": chat_messages(request.prompt, request.image),
            "temperature": self.sampling.temperature,
            "max_completion_tokens": self.sampling.max_new_tokens,
        }
        if self.sampling.n > 1:
            body["n"] = self.sampling.n
        if self.sampling.seed is not None:
            body["seed"] = self.sampling.seed
        return body

    def generate(self, requests: Sequence[EvalRequest]) -> list[Generation]:
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            return list(pool.map(self._complete, requests))
        finally:  # on Ctrl-C, drop the queued requests instead of sending them all
            pool.shutdown(wait=False, cancel_futures=True)

    def _complete(self, request: EvalRequest) -> Generation:
        """One request with retries; the last error becomes the sample's failure."""
        data = json.dumps(self.payload(request)).encode("utf-8")
        attempt = 0
        while True:
            try:
                return Generation(self._post(data))
            except RequestFailed as failure:
                attempt += 1
                if not failure.retry or attempt > self.max_retries:
                    return Generation(error=f"{failure} (after {attempt} attempt(s))")
                time.sleep(self._delay(attempt - 1, failure.wait))

    def _delay(self, attempt: int, wait: float | None) -> float:
        """Exponential backoff with jitter, or the server's Retry-After when it gives one."""
        if wait is not None:
            return min(wait, MAX_BACKOFF_S)
        return min(self.backoff * 2**attempt, MAX_BACKOFF_S) * random.uniform(0.5, 1.0)

    def _post(self, data: bytes) -> tuple[str, ...]:
        url = f"{self.base_url}/chat/completions"
        request = urllib.request.Request(url, data=data, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:ERROR_BODY_CHARS].decode("utf-8", "replace")
            retry = error.code in RETRY_STATUS or error.code >= 500
            raise RequestFailed(
                f"HTTP {error.code}: {detail}", retry, _retry_after(error.headers)
            ) from None
        except TimeoutError:
            raise RequestFailed(f"timed out after {self.timeout:g} s", True) from None
        except OSError as error:  # URLError, connection reset or refused
            reason = getattr(error, "reason", error)
            if isinstance(reason, TimeoutError):
                raise RequestFailed(f"timed out after {self.timeout:g} s", True) from None
            raise RequestFailed(f"connection error: {reason}", True) from None
        try:
            choices = json.loads(body)["choices"]
            texts = tuple(choice_text(choice) for choice in choices)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise RequestFailed(f"malformed response: {body[:ERROR_BODY_CHARS]!r}", True) from None
        if len(texts) != self.sampling.n:
            raise RequestFailed(f"got {len(texts)} choices, asked for {self.sampling.n}", False)
        return texts


def _retry_after(headers: Any) -> float | None:
    """Seconds from a numeric Retry-After header, else None."""
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
