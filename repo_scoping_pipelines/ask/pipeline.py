"""/ask's storage work and answer loop: retrieval of numbered sources (search, facts, approved abilities,
ownership, what shipped, the import graph), the model's streamed answer with tool calls (or the extractive
answer), citation validation, guardrail counters, and the conversation turn stored once complete.

`prepare` checks the request (unknown repository or conversation: NotFound) before anything streams;
`events` yields ("sources" | "delta" | "done" | "error", payload). A failure of the model server ends in
one `error` event and stores nothing of the turn.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from repo_scoping_pipelines.abilities.guardrails import COUNTERS
from repo_scoping_pipelines.abilities.llm import LlmFailure
from repo_scoping_pipelines.operations import log as ops_log
from repo_scoping_pipelines.operations import telemetry
from repo_scoping_pipelines.safety.redaction import redact, redact_secrets
from repo_scoping_pipelines.search.query import search

from ..facts.model import KINDS
from ..services import Services
from ..storage import abilities as ability_store
from ..storage import catalog, operations
from ..storage import conversations as store
from ..storage import facts as fact_store
from .extractive import extractive_answer
from .grounding import MarkerFilter, ground
from .prompt import MAX_HISTORY_TURNS, build_messages, estimate_tokens
from .sources import Source, ability_source, chunk_source, fact_source, number, render
from .tools import (
    ImportArgs,
    Lookup,
    OwnershipArgs,
    ShippedArgs,
    ToolArgumentError,
    ToolFailed,
    parse_arguments,
    run_tool,
    tool_specs,
    who_imports,
)
from .tools import ownership as ownership_tool
from .tools import shipped as shipped_tool

SEARCH_LIMIT = 6
MAX_FACTS = 4
MAX_ABILITIES = 2
MAX_TOOL_STEPS = 3
_STOP = frozenset(["a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "has", "have", "how", "i", "in", "is", "it", "its", "me", "my", "of", "on", "or", "our", "the", "their", "them", "there", "this", "to", "was", "what", "when", "where", "which", "who", "whom", "why", "will", "with", "you", "your", "use", "uses", "used", "using", "about", "tell", "show", "list", "any", "all", "some", "repository", "repositories", "repo", "code"])
_WORD = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_OWNERSHIP = re.compile(r"\b(owns?|owned|owner|ownership|who (knows|wrote|maintains|works on)|experts?|maintainers?)\b",
                        re.IGNORECASE)
_SHIPPED = re.compile(r"\b(ship(ped|s)?|released?|changed|merged|what happened)\b.*\b(week|lately|recently)\b|"
                      r"\b(last|this) week\b", re.IGNORECASE)
_IMPORTS = re.compile(r"\bimports?\b|\bimported\b|\bdepends? on\b", re.IGNORECASE)
_KIND_HINTS = {"dependency": r"\bdepend|\buses?\b|\bpackages?\b|\blibrar", "framework": r"\bframework|\bbuilt with",
               "route": r"\broutes?\b|\bendpoints?\b|\bhttp\b|\bapi\b", "entry_point": r"\bentry|\bcommands?\b|\bcli\b",
               "license": r"\blicen[cs]e", "ci_job": r"\bci\b|\bpipeline", "dockerfile": r"\bdocker|\bcontainer",
               "tests": r"\btest(s|ing)?\b|\bpytest|\bunittest"}


# Lockfile entries (thousands in a package-lock.json) would crowd the declared facts out of the scan.
ASKED_KINDS = tuple(k for k in KINDS if k != "locked_dependency")


class AskError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Prepared:
    question: str
    repository: str | None
    conversation_id: str
    history: list[dict]
    new_conversation: bool
    started: float = field(default_factory=time.perf_counter)


def prepare(services: Services, question: str, repository: str | None = None,
            conversation_id: str | None = None) -> Prepared:
    """Check the request against what is stored (NotFound for an unknown repository or conversation)."""
    question = (question or "").strip()
    if not question:
        raise AskError(400, "invalid_request", "question: must not be empty")
    engine = services.reader
    history: list[dict] = []
    if conversation_id:
        conversation = store.get_conversation(engine, conversation_id)  # NotFound -> 404
        history = conversation["turns"][-MAX_HISTORY_TURNS:]
        repository = repository or conversation["repository"]
    if repository:
        catalog.get_repository(engine, repository)  # NotFound -> 404
    return Prepared(question=question, repository=repository, conversation_id=conversation_id or uuid.uuid4().hex,
                    history=history, new_conversation=not conversation_id)


# --- retrieval ------------------------------------------------------------------------------------------

def _words(text: str) -> set[str]:
    return {w.strip(".-") for w in _WORD.findall(text.lower()) if w.strip(".-") not in _STOP and len(w) > 1}


def _content_words(question: str, repos: list) -> set[str]:
    """The question's words less the repositories' names: every fact of a repository matches its own name
    ("which dependencies does invoicer declare?" would rank any fact under invoicer/ first)."""
    return _words(question) - {w for r in repos for w in _words(r.name.replace("_", " ") + " " + r.name)}


def _best_facts(lookup: Lookup, repos: list, question: str, words: set[str]) -> list[Source]:
    hinted = {kind for kind, pattern in _KIND_HINTS.items() if re.search(pattern, question, re.IGNORECASE)}
    scored = []
    for repo in repos:
        rows = fact_store.facts_of_kinds(lookup.engine, repo.id, ASKED_KINDS, limit=3000)
        for row in rows:
            value = row.get("value")
            # a framework's category ("database", "web", ...) lets "the billing database" find psycopg
            extra = " ".join(str(v) for v in value.values()) if isinstance(value, dict) else ""
            text = f"{row['kind']} {row['subject']} {row['path']} {extra}"
            overlap = len(words & _words(text.replace("_", " ") + " " + text))
            # A kind the question names ("which licence", "what dependencies") counts on its own.
            score = overlap * 2 + (1 if row["kind"] in hinted else 0)
            if score > 0:
                scored.append((-score, row["kind"], row["subject"], row, repo.name))
    scored.sort(key=lambda t: t[:3])
    return [fact_source(row, name) for *_, row, name in scored[:MAX_FACTS]]


def _best_abilities(lookup: Lookup, repos: list, words: set[str]) -> list[Source]:
    names = {r.name for r in repos}
    scored = []
    for ability in ability_store.search_abilities(lookup.engine, None, limit=500):
        if names and ability["repository"] not in names:
            continue
        overlap = len(words & _words(f"{ability['name']} {ability['description']} {ability['category']}"))
        if overlap:
            scored.append((-overlap, ability["repository"], ability["name"], ability))
    scored.sort(key=lambda t: t[:3])
    return [ability_source(a, lookup.commit(a["repository"])) for *_, a in scored[:MAX_ABILITIES]]


def _intent_sources(lookup: Lookup, question: str, repos: list, hits: list[dict], history: list[dict]) -> list[Source]:
    """Structured answers the question plainly asks for: ownership, what shipped, who imports."""
    out: list[Source] = []
    if not repos:
        return out
    repo = repos[0].name
    if _OWNERSHIP.search(question):
        # "and who owns it?": the path the previous answer cited first, else the best hit.
        earlier = [c for t in reversed(history) for c in t.get("citations") or [] if c.get("path")
                   and c.get("repository") == repo]
        paths = [c["path"] for c in earlier[:1]] + [h["path"] for h in hits if h["repository"] == repo][:1]
        for path in paths:
            try:
                out += ownership_tool(lookup, OwnershipArgs(repository=repo, path=path))
                break
            except ToolFailed:
                continue
    if _SHIPPED.search(question):
        with contextlib.suppress(ToolFailed, ToolArgumentError):  # nothing shipped known: no source
            out += shipped_tool(lookup, ShippedArgs(repository=repo))
    if _IMPORTS.search(question):
        for word in sorted(_words(question), key=len, reverse=True)[:3]:
            found = who_imports(lookup, ImportArgs(module=word, repository=repo))
            if found:
                out += found[:4]
                break
    return out


def retrieve(services: Services, prepared: Prepared) -> tuple[list[Source], str | None]:
    """The numbered sources for a question, best first, and a notice when search fell back to Postgres."""
    query = prepared.question
    if prepared.history:  # a follow-up ("and who owns it?") is read with the question before it
        query = f"{prepared.history[-1]['question']} {query}"
    outcome = search(services, query[:1000], repository=prepared.repository, limit=SEARCH_LIMIT, mode="hybrid")
    lookup = Lookup(services.reader)
    chunks = [chunk_source(h, lookup.commit(h["repository"]), outcome.texts.get(h["chunk_id"]))
              for h in outcome.results]
    if prepared.repository:
        repos = [lookup.repository(prepared.repository)]
    else:
        repos = [lookup.repository(n) for n in dict.fromkeys(h["repository"] for h in outcome.results)][:3]
    intents = _intent_sources(lookup, prepared.question, repos, outcome.results, prepared.history)
    words = _content_words(query, repos)
    facts = _best_facts(lookup, repos, query, words)
    abilities = _best_abilities(lookup, repos, words)
    # Best passages first, then the structured answers the question asks for, then matching facts.
    ordered = chunks[:2] + intents + chunks[2:] + facts + abilities
    return number(ordered), outcome.notice


# --- the answer -----------------------------------------------------------------------------------------

@dataclass
class _Run:
    prepared: Prepared
    sources: list[Source]
    counts: dict = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))
    events: list[tuple[str, str, str]] = field(default_factory=list)
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "llm_calls": 0,
                                                 "tool_calls": 0})
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])

    def hit(self, counter: str, what: str, detail: str) -> None:
        self.counts[counter] += 1
        self.events.append((counter, f"ask:{self.request_id}:{what}", detail[:300]))

    def flag(self, sources: list[Source]) -> None:
        for s in sources:
            if s.flags.get("secrets"):
                self.hit("unsafe_content", f"source:{s.n}", f"{s.location()}: secret redacted "
                                                            f"({', '.join(s.flags['secrets'])})")
            if s.flags.get("injection"):
                self.hit("prompt_injection", f"source:{s.n}", f"{s.location()}: {s.flags['injection'][0]}")


def _source_event(sources: list[Source], prepared: Prepared, mode: str) -> dict:
    return {"conversation_id": prepared.conversation_id, "mode": mode,
            "sources": [{**s.citation(), "symbol": s.symbol} for s in sources]}


def events(services: Services, prepared: Prepared) -> Iterator[tuple[str, dict]]:
    """The answer as events: sources, delta..., then done (the final JSON) or error."""
    settings = services.settings
    mode = "llm" if settings.llm_provider == "openai" and settings.llm_model else "extractive"
    run = None
    outcome = "error"
    try:
        sources, notice = retrieve(services, prepared)
        run = _Run(prepared, sources)
        run.flag(sources)
        telemetry.ASK_SOURCES_LATENCY.labels(mode).observe(time.perf_counter() - prepared.started)
        first = _source_event(sources, prepared, mode)
        if notice:
            first["notice"] = notice
        yield "sources", first
        if mode == "extractive":
            text = extractive_answer(prepared.question, sources)
            telemetry.ASK_FIRST_TOKEN.labels(mode).observe(time.perf_counter() - prepared.started)
            yield "delta", {"text": text}
        else:
            text = yield from _llm_answer(services, prepared, run)
        final = _finish(services, run, text, mode)
        outcome = "ok"
        yield "done", final
    except LlmFailure as exc:
        yield "error", {"code": "llm_unavailable", "message": f"no answer: {exc}; nothing was stored"}
    except Exception as exc:  # never a half answer: one clear error event, nothing stored
        message = redact(f"{type(exc).__name__}: {exc}", ops_log.secrets()).splitlines()[0][:300]
        ops_log.event("ask.failed", error=message)
        yield "error", {"code": "ask_failed", "message": f"no answer: {message}; nothing was stored"}
    finally:
        telemetry.ASKS.labels(mode, outcome).inc()
        if run is not None:
            _record_guardrails(services, run)


def _llm_answer(services: Services, prepared: Prepared, run: _Run):
    from .llm import AskClient, StreamEnd

    client = AskClient(services.settings)
    lookup = Lookup(services.reader)
    messages = build_messages(prepared.question, run.sources, prepared.history, prepared.repository)
    offered = {spec["function"]["name"]: spec for spec in tool_specs()}
    failures: dict[str, int] = {}
    marker_filter = MarkerFilter({s.n for s in run.sources})
    parts: list[str] = []
    first_token = None
    try:
        for step in range(MAX_TOOL_STEPS + 1):
            tools = list(offered.values()) if step < MAX_TOOL_STEPS and offered else None
            end = StreamEnd()
            step_text: list[str] = []
            for piece in client.stream(messages, estimate_tokens(messages, 1200), tools):
                if isinstance(piece, StreamEnd):
                    end = piece
                    break
                step_text.append(piece)
                shown = marker_filter.feed(piece)
                if shown:
                    if first_token is None:
                        first_token = time.perf_counter()
                        telemetry.ASK_FIRST_TOKEN.labels("llm").observe(first_token - prepared.started)
                    yield "delta", {"text": shown}
            parts += step_text
            if not end.tool_calls:
                break
            messages.append({"role": "assistant", "content": "".join(step_text) or None, "tool_calls": [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in end.tool_calls]})
            added: list[Source] = []
            for call in end.tool_calls:
                run.usage["tool_calls"] += 1
                content = _tool_result(lookup, call, run, failures, offered, step, added)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": content})
            if added:
                marker_filter.valid.update(s.n for s in added)
                yield "sources", {**_source_event(added, prepared, "llm"), "step": step + 1}
        rest = marker_filter.flush()
        if rest:
            yield "delta", {"text": rest}
    finally:
        run.usage.update(prompt_tokens=client.prompt_tokens, completion_tokens=client.completion_tokens,
                         llm_calls=client.calls)
        telemetry.ASK_TOKENS.labels("prompt").inc(client.prompt_tokens)
        telemetry.ASK_TOKENS.labels("completion").inc(client.completion_tokens)
    return "".join(parts)


def _tool_result(lookup: Lookup, call, run: _Run, failures: dict, offered: dict, step: int,
                 added: list[Source]) -> str:
    """Run one tool call; bad arguments are answered with the error once (the model may retry), and the
    tool is withdrawn after a second bad call. Each step is logged."""
    try:
        args = parse_arguments(call.name, call.arguments)
        found = run_tool(lookup, call.name, args)  # a value its schema allows may still be invalid (a week)
    except ToolArgumentError as exc:
        failures[call.name] = failures.get(call.name, 0) + 1
        run.hit("schema_violation", f"tool:{step}:{call.id}", f"{call.name}: {exc}")
        ops_log.event("ask.tool", step=step + 1, tool=call.name, status="invalid_arguments", error=str(exc)[:200])
        if failures[call.name] >= 2:
            offered.pop(call.name, None)
            return f"error: invalid arguments again ({exc}); this tool call is skipped, answer without it"
        return f"error: invalid arguments ({exc}); call {call.name} again with arguments matching its schema"
    except ToolFailed as exc:
        ops_log.event("ask.tool", step=step + 1, tool=call.name, status="no_result", detail=str(exc)[:200])
        return f"no result: {exc}"
    found = number(found, start=len(run.sources) + 1)
    run.sources.extend(found)
    run.flag(found)
    added.extend(found)
    ops_log.event("ask.tool", step=step + 1, tool=call.name, status="ok", sources=len(found),
                  arguments=args.model_dump(exclude_none=True))
    return render(found) if found else "no result: nothing stored matches"


def _finish(services: Services, run: _Run, text: str, mode: str) -> dict:
    by_n = {s.n: s for s in run.sources}
    grounded = ground(text, {n: s.text for n, s in by_n.items()}) if run.sources or mode == "llm" else None
    answer = grounded.answer if grounded else text
    for reason in grounded.ungrounded if grounded else []:
        run.hit("ungrounded_claim", f"marker:{len(run.events)}", reason)
    answer, secret_kinds = redact_secrets(answer)
    if secret_kinds:
        run.hit("unsafe_content", "answer", f"secret removed from the answer ({', '.join(secret_kinds)})")
    citations = [by_n[n].citation() for n in (grounded.cited if grounded else [])]
    usage = {**run.usage, "model": services.settings.llm_model if mode == "llm" else None}
    final = {"answer": answer, "citations": citations, "conversation_id": run.prepared.conversation_id,
             "mode": mode, "usage": usage, "guardrails": dict(run.counts)}
    store.add_turn(services.engine, run.prepared.conversation_id, run.prepared.repository,
                   {"question": run.prepared.question, "answer": answer, "citations": citations, "mode": mode,
                    "usage": usage, "guardrails": dict(run.counts)})
    return final


def _record_guardrails(services: Services, run: _Run) -> None:
    """Each event once in guardrail_events (behind /health and Prometheus) and in the operations log."""
    for counter, subject, detail in run.events:
        ops_log.event(f"guardrail.{counter}", subject=subject, detail=detail)
        try:
            operations.record_guardrail(services.engine, counter, subject, detail=detail)
        except Exception:  # counting must never cost the answer
            ops_log.event("ask.guardrail_not_stored", counter=counter)
