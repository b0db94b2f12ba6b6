"""/ask quality and speed on a real repository (issue 14, "Quality and speed").

The repository (default bench/.work/src/requests) is cloned privately, its function docstrings are
stripped as in bench_search_quality.py (the stripped tree committed on top of the full history), and it
is registered and refreshed through the product: register_repository, then the whole
`refresh_repository` Dagster job (refresh_in_process: snapshot, chunks, embeddings, facts, metrics,
ownership, import graph ...), hashing embeddings, on a throwaway stack (fresh database, Milvus Lite).

Measured:
  recall@k     docstring-derived questions (each docstring's first sentence, at most --max-queries, a
               fixed sample): is the true function (right file, at least half of the source's lines
               inside it, as the search benchmark scores a hit) among the numbered sources /ask gives
               (pipeline.prepare + pipeline.retrieve, exactly what POST /ask numbers)? Also @1 and @3.
  hit rate     hand-written questions over facts and metrics whose true answers come from an independent
               source read here with git (`git show HEAD:pyproject.toml` / setup.py, `git log`, `git
               ls-files`, `git grep`), asked through POST /ask (extractive mode, TestClient): a hit when
               the true answer appears in the answer text or in the path of a cited source. Also
               whether it is in the text or path of any source given (what a model would have seen).
  validity     every [n] in every answer refers to a source given in the `sources` event (must be 100 %).
  latency      POST /ask streamed (TestClient): time to the `sources` event and to `done`, extractive
               mode; the same questions' plain GET /search as the baseline of the same run; then with
               the model configured against a local OpenAI-compatible streaming server (http.server in
               a thread, SSE chunks), the time to the first `delta` event, as a ratio to the baseline.

    .venv/bin/python bench/bench_ask.py [--repo PATH] [--max-queries N] [--json F]

Goals (issue 14): citation validity 100 %; p95 to the `sources` event < 300 ms on the embedded stack.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import threading
import time
import tomllib
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from _common import Timer, add_stack_args, default_repo, percentile, summary_ms, throwaway_stack
from bench_search_quality import is_hit
from bench_search_quality import prepare as strip_repository

SEED = 14
MARKER = re.compile(r"\[(\d+)\]")


def run_git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


# --------------------------------------------------------------------------- hand-written questions


def _requirement_names(specs: list[str]) -> list[str]:
    return [re.split(r"[<>=!~\[;( ]", s.strip(), maxsplit=1)[0] for s in specs if s.strip()]


def _manifest(repo: Path) -> dict:
    """The declared dependencies, licence and Python requirement, read from the manifest files."""
    files = set(run_git(repo, "ls-files").splitlines())
    out: dict = {"dependencies": [], "extras": [], "license": None, "requires_python": None}
    if "pyproject.toml" in files:
        project = tomllib.loads(run_git(repo, "show", "HEAD:pyproject.toml")).get("project", {})
        out["dependencies"] = _requirement_names(project.get("dependencies", []))
        out["extras"] = _requirement_names([d for v in project.get("optional-dependencies", {}).values() for d in v])
        lic = project.get("license")
        out["license"] = lic.get("text") if isinstance(lic, dict) else lic
        out["requires_python"] = project.get("requires-python")
    if not out["dependencies"] and "setup.py" in files:
        setup = run_git(repo, "show", "HEAD:setup.py")
        block = re.search(r"requires\s*=\s*\[(.*?)\]", setup, re.DOTALL)
        out["dependencies"] = _requirement_names(re.findall(r"['\"]([^'\"]+)['\"]", block.group(1))) if block else []
        m = re.search(r"python_requires\s*=\s*['\"]([^'\"]+)", setup)
        out["requires_python"] = out["requires_python"] or (m.group(1) if m else None)
    if "LICENSE" in files and not out["license"]:
        head = run_git(repo, "show", "HEAD:LICENSE")[:400]
        m = re.search(r"(Apache|MIT|BSD|GPL|MPL)", head)
        out["license"] = m.group(1) if m else None
    return out


def _top_author(repo: Path, *paths: str) -> str:
    authors = Counter(run_git(repo, "log", "--format=%an", "--", *paths).splitlines())
    authors.pop("bench", None)  # the stripping commit
    return authors.most_common(1)[0][0]


def _defined_in(repo: Path, pattern: str) -> list[str]:
    out = subprocess.run(["git", "grep", "-l", "-E", pattern, "--", "*.py"], cwd=repo, capture_output=True,
                         text=True).stdout.split()
    return [p for p in out if not p.startswith(("tests/", "docs/"))]


def hand_questions(repo: Path) -> list[dict]:
    """(question, true answers: any of them counts) with each truth read from an independent source."""
    m = _manifest(repo)
    files = run_git(repo, "ls-files").splitlines()
    qs: list[dict] = []

    def add(question: str, truths: list[str], source: str) -> None:
        truths = [t for t in truths if t]
        if truths:
            qs.append({"question": question, "truths": truths, "source": source})

    purposes = {"charset_normalizer": "detect the character encoding of responses",
                "chardet": "detect character encodings", "idna": "encode internationalised domain names",
                "urllib3": "do the HTTP connection pooling", "certifi": "get the CA certificate bundle"}
    for dep in m["dependencies"]:
        add(f"Which package does requests use to {purposes.get(dep, 'do ' + dep)}?", [dep], "manifest")
        add(f"Does requests depend on {dep}?", [dep], "manifest")
    add("Which dependencies does requests declare?", m["dependencies"], "manifest")
    add("Which packages does requests install?", m["dependencies"], "manifest")
    for extra in m["extras"][:3]:
        add(f"Is {extra} an optional dependency of requests?", [extra], "manifest")
    # the licence as an SPDX id or its family ("Apache-2.0" or "Apache"); the Python floor bare too
    licence = [m["license"], *(re.findall(r"^[A-Za-z]+", m["license"] or "")[:1])]
    python = [m["requires_python"], *re.findall(r"\d+\.\d+", m["requires_python"] or "")[:1]]
    add("What license is requests released under?", licence, "manifest/LICENSE")
    add("Which licence does this project use?", licence, "manifest/LICENSE")
    add("Which Python versions does requests require?", python, "manifest")
    tooling = [p for p in files if re.match(r"(requirements.*\.txt|tox\.ini|setup\.cfg|pyproject\.toml)$", p)]
    testing = ["pytest"] if any("pytest" in run_git(repo, "show", f"HEAD:{p}") for p in tooling) else []
    add("Which testing tool does requests use?", testing, "requirements/tox files")
    add("Which test framework runs the tests?", testing, "requirements/tox files")
    workflows = [p for p in files if p.startswith(".github/workflows/")]
    add("Which CI pipelines does requests run?", workflows, "git ls-files .github/workflows")
    add("Which CI jobs are defined in GitHub Actions?", workflows, "git ls-files .github/workflows")
    add("Who wrote most commits of requests?", [_top_author(repo)], "git log --format=%an")
    for path in ("src/requests/sessions.py", "src/requests/adapters.py", "src/requests/models.py",
                 "src/requests/auth.py", "src/requests/utils.py", "src/requests/cookies.py"):
        if path in files:
            add(f"Who owns {path}?", [_top_author(repo, path)], f"git log --format=%an -- {path}")
            add(f"Who knows {Path(path).stem} best?", [_top_author(repo, path)], f"git log --format=%an -- {path}")
    for symbol, what in (("Session", "class Session\\b"), ("HTTPAdapter", "class HTTPAdapter\\b"),
                         ("PreparedRequest", "class PreparedRequest\\b"), ("HTTPDigestAuth", "class HTTPDigestAuth\\b"),
                         ("RequestsCookieJar", "class RequestsCookieJar\\b"),
                         ("CaseInsensitiveDict", "class CaseInsensitiveDict\\b")):
        add(f"Where is {symbol} defined?", _defined_in(repo, what), f"git grep -l '{what}'")
    add("Where are the HTTP status codes defined?", _defined_in(repo, r"^_codes = \{"), "git grep -l '_codes = {'")
    add("Where are the exceptions of requests defined?", _defined_in(repo, r"^class RequestException\b"),
        "git grep -l 'class RequestException'")
    add("Which module imports requests.compat?", _defined_in(repo, r"^from \.compat import|^from requests\.compat"),
        "git grep -l 'from .compat import'")
    add("Who imports the cookies module?", _defined_in(repo, r"^from \.cookies import"), "git grep -l 'from .cookies'")
    return qs


def is_answer_hit(final: dict, truths: list[str]) -> bool:
    hay = (final["answer"] + "\n" + "\n".join(c["path"] or "" for c in final["citations"])).lower()
    return any(t.lower().replace("_", "-") in hay.replace("_", "-") for t in truths)


# --------------------------------------------------------------------------- SSE and the local model server


def stream_ask(client, body: dict) -> tuple[dict, list[tuple[str, dict]]]:
    """POST /ask streamed; seconds from the request to the first `sources`, first `delta` and `done`."""
    started = time.perf_counter()
    times: dict = {}
    events: list[tuple[str, dict]] = []
    name = None
    with client.stream("POST", "/ask", json={**body, "stream": True}) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
                times.setdefault(name, time.perf_counter() - started)
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
    times["total"] = time.perf_counter() - started
    return times, events


def check_citations(events: list[tuple[str, dict]]) -> tuple[int, int, bool]:
    """(markers in the answer, markers naming a given source, citations all given)."""
    given = {s["n"] for name, data in events if name == "sources" for s in data["sources"]}
    done = next(data for name, data in events if name == "done")
    markers = [int(n) for n in MARKER.findall(done["answer"])]
    cited_ok = all(c["n"] in given for c in done["citations"])
    return len(markers), sum(n in given for n in markers), cited_ok


class _ModelHandler(BaseHTTPRequestHandler):
    """Chat completions, streamed: a role chunk, then the answer in a few content chunks, usage, [DONE]."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        pieces = ["The answer ", "is in the first ", "source [1]", "."]
        chunks = [{"role": "assistant", "content": ""}] + [{"content": p} for p in pieces]
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

        def send(payload: dict) -> None:
            data = f"data: {json.dumps(payload)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        for i, delta in enumerate(chunks):
            send({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "bench-model",
                  "choices": [{"index": 0, "delta": delta, "finish_reason": "stop" if i == len(chunks) - 1 else None}]})
        send({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "bench-model", "choices": [],
              "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}})
        data = b"data: [DONE]\n\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
        self.wfile.flush()


def model_server() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ModelHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --------------------------------------------------------------------------- main


def ms(values: list[float]) -> dict:
    return {"p50_ms": round(percentile(values, 50) * 1000, 1), "p95_ms": round(percentile(values, 95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1), "n": len(values)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repo", type=Path, help="a local git repository (default bench/.work/src/requests)")
    parser.add_argument("--max-queries", type=int, default=150, help="docstring questions, at most")
    parser.add_argument("--json", type=Path, help="write the figures here")
    add_stack_args(parser)
    args = parser.parse_args()
    pristine = (args.repo or default_repo("requests")).resolve()
    name = pristine.name

    import dagster as dg
    from fastapi.testclient import TestClient

    from repo_scoping_pipelines.api import create_app
    from repo_scoping_pipelines.ask import pipeline
    from repo_scoping_pipelines.collectors.registration import register_repository
    from repo_scoping_pipelines.config import Settings
    from repo_scoping_pipelines.operations.refresh import refresh_in_process

    figures: dict = {"repository": name, "commit": run_git(pristine, "rev-parse", "--short", "HEAD").strip()}
    # No search cache: every timed question is new to the process, as a user's question is (the recall
    # pass would otherwise warm the cache for the same questions); the operations log goes to a file.
    with throwaway_stack(args, "ask", search_cache_entries=0, log_level="WARNING") as (settings, services):
        work = Path(settings.home) / "sources" / name
        targets = strip_repository(pristine, work)
        rng = random.Random(SEED)
        targets = sorted(targets, key=lambda t: (t.path, t.start))
        targets = rng.sample(targets, min(args.max_queries, len(targets)))
        hand = hand_questions(work)
        register_repository(services, name, str(work))
        timer = Timer()
        with dg.instance_for_test() as instance:
            outcome = refresh_in_process(instance, name)
        if not outcome.success:
            raise SystemExit(f"refresh failed: {outcome.error}")
        print(f"{name}@{figures['commit']}: refreshed through Dagster in {timer.seconds:.1f} s "
              f"({len(outcome.assets)} assets); {len(targets)} docstring questions, {len(hand)} hand-written",
              flush=True)

        # 1. context recall@k over the numbered sources /ask gives
        ranks, ks = [], []
        for t in targets:
            sources, _ = pipeline.retrieve(services, pipeline.prepare(services, t.query, name))
            ks.append(len(sources))
            found = [s.n for s in sources if s.start_line is not None and
                     is_hit({"path": s.path, "start_line": s.start_line, "end_line": s.end_line}, t)]
            ranks.append(found[0] if found else None)
        n = len(ranks) or 1
        recall = {"recall@k": sum(r is not None for r in ranks) / n, "recall@1": sum(r == 1 for r in ranks) / n,
                  "recall@3": sum(r is not None and r <= 3 for r in ranks) / n, "mean_k": sum(ks) / n,
                  "questions": len(ranks)}
        figures["recall"] = recall
        print(f"context recall: @k {recall['recall@k']:.3f} (mean k {recall['mean_k']:.1f} sources), "
              f"@1 {recall['recall@1']:.3f}, @3 {recall['recall@3']:.3f} over {len(ranks)} questions", flush=True)

        # the hand-written questions' context: is the true answer in the text or path of a given source?
        in_context = []
        for q in hand:
            sources, _ = pipeline.retrieve(services, pipeline.prepare(services, q["question"], name))
            hay = "\n".join(f"{s.path}\n{s.text}" for s in sources).lower().replace("_", "-")
            in_context.append(any(t.lower().replace("_", "-") in hay for t in q["truths"]))
        figures["hand_context"] = {"hits": sum(in_context), "rate": sum(in_context) / len(hand)}
        print(f"hand-written, true answer among the sources given: {sum(in_context)}/{len(hand)}", flush=True)

        # 2-4. through the API: hand-written hit rate, citation validity, latency (extractive)
        with TestClient(create_app(settings)) as client:
            for q in hand[:5]:  # warm-up
                stream_ask(client, {"question": q["question"], "repository": name})
                client.get("/search", params={"q": q["question"], "repository": name})
            markers = valid = cited_bad = 0
            hits, misses = 0, []
            to_sources, to_done, baseline = [], [], []
            questions = [{"question": q["question"], "truths": q["truths"]} for q in hand] + \
                        [{"question": t.query, "truths": None} for t in targets]
            for q in questions:
                times, events = stream_ask(client, {"question": q["question"], "repository": name})
                to_sources.append(times["sources"])
                to_done.append(times["total"])
                m, v, ok = check_citations(events)
                markers, valid, cited_bad = markers + m, valid + v, cited_bad + (not ok)
                if q["truths"] is not None:
                    in_sources = in_context[len(to_sources) - 1]
                    final = next(d for e, d in events if e == "done")
                    if is_answer_hit(final, q["truths"]):
                        hits += 1
                    else:
                        misses.append({"question": q["question"], "truths": q["truths"][:4], "in_sources": in_sources,
                                       "answer": final["answer"][:600]})
                t = Timer()
                response = client.get("/search", params={"q": q["question"][:500], "repository": name})
                assert response.status_code == 200, response.text
                baseline.append(t.seconds)
        figures["hand"] = {"questions": len(hand), "hits": hits, "hit_rate": hits / len(hand), "misses": misses,
                           "sources": sorted({q["source"] for q in hand})}
        figures["citations"] = {"answers": len(questions), "markers": markers, "valid": valid,
                                "validity": valid / markers if markers else 1.0, "citation_lists_invalid": cited_bad}
        figures["extractive"] = {"to_sources": ms(to_sources), "to_done": ms(to_done), "search_baseline": ms(baseline)}
        print(f"hand-written: {hits}/{len(hand)} hits ({hits / len(hand):.1%}); missed: "
              f"{[m['question'] for m in misses]}", flush=True)
        print(f"citation validity: {valid}/{markers} markers name a given source "
              f"({figures['citations']['validity']:.1%}); {cited_bad} answers with an invalid citation list")
        print(f"extractive, to `sources`: {summary_ms(to_sources)}")
        print(f"extractive, to `done`:    {summary_ms(to_done)}")
        print(f"GET /search baseline:     {summary_ms(baseline)}", flush=True)

        # 4b. time to the first `delta` with a model on a local OpenAI-compatible streaming server
        server = model_server()
        llm = Settings(**{**settings.model_dump(), "llm_provider": "openai", "llm_model": "bench-model",
                          "llm_base_url": f"http://127.0.0.1:{server.server_port}/v1",
                          "openai_api_key": "sk-bench-abcdefghijklmnopqrstuvwxyz0123", "llm_rpm": 100_000,
                          "llm_tpm": 100_000_000, "llm_retries": 0, "llm_timeout_s": 10.0})
        first_delta, llm_total, llm_base, llm_markers, llm_valid = [], [], [], 0, 0
        with TestClient(create_app(llm)) as client:
            sample = [q["question"] for q in questions][: min(len(questions), 100)]
            for q in sample[:5]:
                stream_ask(client, {"question": q, "repository": name})
            for q in sample:
                times, events = stream_ask(client, {"question": q, "repository": name})
                assert any(e == "done" and d["mode"] == "llm" for e, d in events), events[-1]
                first_delta.append(times["delta"])
                llm_total.append(times["total"])
                m, v, _ = check_citations(events)
                llm_markers, llm_valid = llm_markers + m, llm_valid + v
                t = Timer()
                client.get("/search", params={"q": q[:500], "repository": name})
                llm_base.append(t.seconds)
        server.shutdown()
        p50_ratio = percentile(first_delta, 50) / percentile(llm_base, 50)
        p95_ratio = percentile(first_delta, 95) / percentile(llm_base, 95)
        figures["llm"] = {"first_delta": ms(first_delta), "total": ms(llm_total), "search_baseline": ms(llm_base),
                          "ratio_p50": round(p50_ratio, 2), "ratio_p95": round(p95_ratio, 2),
                          "markers": llm_markers, "valid": llm_valid}
        print(f"model (local streaming server), to first `delta`: {summary_ms(first_delta)}")
        print(f"model, to `done`: {summary_ms(llm_total)}; GET /search baseline: {summary_ms(llm_base)}")
        print(f"first delta / search: p50 {p50_ratio:.2f}x, p95 {p95_ratio:.2f}x; model-mode citations "
              f"{llm_valid}/{llm_markers} valid")
        p95 = figures["extractive"]["to_sources"]["p95_ms"]
        print(f"goals: citation validity 100 %: {'MET' if valid == markers and not cited_bad else 'MISSED'}; "
              f"p95 to sources < 300 ms: {'MET' if p95 < 300 else 'MISSED'} ({p95:.1f} ms)")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
