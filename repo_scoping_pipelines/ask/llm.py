"""The model side of /ask: the ability stage's OpenAI client (same construction, egress checks on every
request and redirect, the SDK's retries, and the same RPM/TPM budget), asked for a streamed answer with
optional tool calls."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from repo_scoping_pipelines.abilities.llm import LlmFailure, _Client
from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.safety.egress import EgressError

MAX_ANSWER_TOKENS = 1200


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass
class StreamEnd:
    """What a streamed completion ended with: its tool calls (if any) and the server's usage."""

    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None


class AskClient(_Client):
    """`stream()` yields text pieces (str) as they arrive, then one StreamEnd."""

    def stream(self, messages: list[dict], estimated_tokens: int, tools: list[dict] | None = None,
               ) -> Iterator[str | StreamEnd]:
        import openai

        self._estimate, self._slot = estimated_tokens, None
        calls_before = self.calls
        started = time.perf_counter()
        end = StreamEnd()
        pieces: dict[int, dict] = {}
        kwargs: dict = {"model": self.model, "messages": messages, "temperature": 0, "max_tokens": MAX_ANSWER_TOKENS,
                        "stream": True, "stream_options": {"include_usage": True}}
        if tools:
            kwargs["tools"] = tools
        try:
            for chunk in self.client.chat.completions.create(**kwargs):
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    end.prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
                    end.completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
                for choice in chunk.choices or []:
                    delta = choice.delta
                    if choice.finish_reason:
                        end.finish_reason = choice.finish_reason
                    if delta is None:
                        continue
                    if delta.content:
                        yield delta.content
                    for call in delta.tool_calls or []:
                        slot = pieces.setdefault(call.index or 0, {"id": "", "name": "", "arguments": ""})
                        if call.id:
                            slot["id"] = call.id
                        if call.function is not None:
                            slot["name"] += call.function.name or ""
                            slot["arguments"] += call.function.arguments or ""
        except EgressError as exc:
            raise LlmFailure(self._redact(str(exc))) from None
        except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                openai.APIConnectionError) as exc:  # still failing after the SDK's retries
            status = getattr(exc, "status_code", None)
            what = f"HTTP {status}" if status else ("timed out" if isinstance(exc, openai.APITimeoutError)
                                                    else "connection failed")
            raise LlmFailure(f"the model server {what} after {max(self.calls - calls_before, 1)} attempt(s)") \
                from None
        except openai.APIStatusError as exc:
            raise LlmFailure(self._redact(f"the model server answered HTTP {exc.status_code}: {str(exc)[:200]}")) \
                from None
        except LlmFailure:
            raise
        except Exception as exc:  # a malformed stream: the server is not speaking the protocol
            raise LlmFailure(self._redact(f"malformed response from the model server: {type(exc).__name__}: "
                                          f"{str(exc)[:200]}")) from None
        self.prompt_tokens += end.prompt_tokens
        self.completion_tokens += end.completion_tokens
        if self._slot is not None and (end.prompt_tokens or end.completion_tokens):
            self.limiter.settle(self._slot, end.prompt_tokens + end.completion_tokens)
        ops_log.llm_usage(provider="openai", model=self.model, purpose="ask", prompt_tokens=end.prompt_tokens,
                          completion_tokens=end.completion_tokens,
                          duration_ms=round((time.perf_counter() - started) * 1000, 1))
        end.tool_calls = [ToolCall(id=p["id"] or f"call_{i}", name=p["name"], arguments=p["arguments"])
                          for i, p in sorted(pieces.items())]
        yield end


def list_models(settings) -> list[str]:
    """Model ids the configured server lists at GET /models (through the same egress-checked client)."""
    client = AskClient(settings)
    return [m.id for m in client.client.with_options(timeout=min(settings.llm_timeout_s, 5.0), max_retries=0)
            .models.list()]
