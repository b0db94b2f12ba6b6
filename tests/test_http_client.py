"""The one outbound HTTP client, against real local HTTP servers (pytest-httpserver):

- JsonClient (GitHub, Redmine): tenacity's retries on 5xx and lost connections, rate limits waited
  through the injected sleep, and `egress.allowed_session` checking the first request and every
  redirect hop against REPO_SCOPING_ALLOWED_HOSTS before connecting;
- the `openai` SDK (LLM and embeddings): its own retries, and the egress request hook.

The "outside" host is a second server on 127.0.0.2 (loopback, but not one of the always-allowed
local names) speaking HTTPS with a throwaway certificate, so only REPO_SCOPING_ALLOWED_HOSTS decides.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl

import pytest
import requests
from pytest_httpserver import HTTPServer
from werkzeug import Response

from repo_scoping_pipelines.abilities.llm import LlmFailure, _Client
from repo_scoping_pipelines.collectors.http import CollectorError, JsonClient, RateLimited
from repo_scoping_pipelines.config import Settings
from repo_scoping_pipelines.embedding.openai_provider import OpenAIEmbedder
from repo_scoping_pipelines.safety.egress import EgressError, allowed_session

TOKEN = "ghp_" + "s" * 36
API_KEY = "sk-test-abcdefghijklmnopqrstuvwxyz0123"
OUTSIDE = "127.0.0.2"


def _certificate(tmp_path_factory) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.2 (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, OUTSIDE)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(OUTSIDE))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """An HTTPS server on a host that is not local by name: it is reachable only if allowed."""
    cert, key = _certificate(tmp_path_factory)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = HTTPServer(host=OUTSIDE, port=0, ssl_context=context)
    server.start()
    server.ca_bundle = cert
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture
def outside_server(outside):
    outside.clear()
    yield outside
    outside.clear()


def settings_for(tmp_path, **overrides) -> Settings:
    return Settings(home=str(tmp_path / "var"), **overrides)


def client(settings: Settings, base: str, sleeps: list[float], **kw) -> JsonClient:
    return JsonClient.from_settings("GitHub", base, {"Authorization": f"Bearer {TOKEN}"}, (TOKEN,), settings,
                                    sleep=sleeps.append, credential_hint="REPO_SCOPING_GITHUB_TOKEN", **kw)


# --- JsonClient: egress on every request and redirect hop -------------------------------------------------

def test_redirect_to_a_host_not_allowed_is_refused_before_connecting(tmp_path, httpserver, outside_server):
    target = outside_server.url_for("/steal")
    assert target.startswith(f"https://{OUTSIDE}:")
    outside_server.expect_request("/steal").respond_with_json({"stolen": True})
    httpserver.expect_request("/repos/acme/payments/pulls").respond_with_response(
        Response(status=302, headers={"Location": target}))
    base = httpserver.url_for("/").rstrip("/")
    sleeps: list[float] = []
    github = client(settings_for(tmp_path, http_retries=2), base, sleeps)

    with pytest.raises(CollectorError) as refused:
        github.get(f"{base}/repos/acme/payments/pulls")
    message = str(refused.value)
    assert f"{OUTSIDE!r}" in message and "REPO_SCOPING_ALLOWED_HOSTS" in message and "redirect" in message
    assert TOKEN not in message
    assert outside_server.log == []  # never connected: the hop was checked before requests sent it
    assert len(httpserver.log) == 1 and sleeps == []  # a refusal is not retried


def test_redirect_to_an_allowed_host_is_followed_without_the_token(tmp_path, httpserver, outside_server,
                                                                   monkeypatch):
    """The control for the test above: once the host is allowed, the same redirect reaches it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", outside_server.ca_bundle)
    outside_server.expect_request("/moved").respond_with_json([{"number": 1}])
    httpserver.expect_request("/repos/acme/payments/pulls").respond_with_response(
        Response(status=301, headers={"Location": outside_server.url_for("/moved")}))
    base = httpserver.url_for("/").rstrip("/")
    github = client(settings_for(tmp_path, allowed_hosts=OUTSIDE), base, [])
    answer = github.get(f"{base}/repos/acme/payments/pulls")
    assert answer.status == 200 and answer.data == [{"number": 1}]
    (request, _), = outside_server.log
    assert "Authorization" not in request.headers  # requests strips credentials on a cross-host hop


def test_allowed_session_refuses_the_first_request_too(tmp_path, outside_server):
    session = allowed_session(settings_for(tmp_path), "test")
    with pytest.raises(EgressError, match="not in REPO_SCOPING_ALLOWED_HOSTS"):
        session.get(outside_server.url_for("/x"), timeout=2)
    with pytest.raises(EgressError, match="plain http"):
        session.get(f"http://{OUTSIDE}:1/x", timeout=2)
    assert outside_server.log == []


def test_json_client_requires_the_egress_session():
    with pytest.raises(TypeError, match="from_settings"):
        JsonClient(service="GitHub", base_url="https://api.github.com", headers={}, secrets=())


# --- JsonClient: tenacity's retries and the rate-limit waits ----------------------------------------------

def test_5xx_then_200_is_retried_with_exponential_backoff(tmp_path, httpserver):
    httpserver.expect_ordered_request("/x").respond_with_data("down", status=502)
    httpserver.expect_ordered_request("/x").respond_with_data("down", status=503)
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 1})
    base = httpserver.url_for("/").rstrip("/")
    sleeps: list[float] = []
    github = client(settings_for(tmp_path, http_backoff_s=0.5, http_retries=3), base, sleeps)
    answer = github.get(f"{base}/x")
    assert answer.data == {"ok": 1} and github.requests_made == 3 and len(httpserver.log) == 3
    assert sleeps == [0.5, 1.0] and github.waited_s == 0.0  # backoff doubles; only rate limits count as waits
    httpserver.check_assertions()


def test_5xx_every_time_gives_up_after_the_retries(tmp_path, httpserver):
    httpserver.expect_request("/x").respond_with_json({"message": f"boom {TOKEN}"}, status=500)
    base = httpserver.url_for("/").rstrip("/")
    sleeps: list[float] = []
    github = client(settings_for(tmp_path, http_backoff_s=0.25, http_retries=2), base, sleeps)
    with pytest.raises(CollectorError, match=r"^GitHub answered 500 for /x after 3 attempts$"):
        github.get(f"{base}/x")
    assert len(httpserver.log) == 3 and sleeps == [0.25, 0.5]


def test_connection_errors_are_retried_then_reported(tmp_path, httpserver):
    base = httpserver.url_for("/").rstrip("/")
    httpserver.stop()
    try:
        sleeps: list[float] = []
        github = client(settings_for(tmp_path, http_backoff_s=1.0, http_retries=2, http_timeout_s=2.0), base,
                        sleeps)
        with pytest.raises(CollectorError) as failed:
            github.get(f"{base}/repos/acme/payments/pulls?token={TOKEN}")
    finally:
        httpserver.start()
    assert str(failed.value) == ("GitHub unreachable at /repos/acme/payments/pulls after 3 attempts: "
                                 "ConnectionError")
    assert sleeps == [1.0, 2.0] and github.requests_made == 3


def test_retry_after_on_429_is_waited_through_the_injected_sleep(tmp_path, httpserver):
    httpserver.expect_ordered_request("/x").respond_with_json({"message": "slow down"}, status=429,
                                                              headers={"Retry-After": "7"})
    httpserver.expect_ordered_request("/x").respond_with_json({"ok": 2})
    base = httpserver.url_for("/").rstrip("/")
    sleeps: list[float] = []
    github = client(settings_for(tmp_path, http_max_wait_s=30.0), base, sleeps)
    assert github.get(f"{base}/x").data == {"ok": 2}
    assert sleeps == [7.0] and github.waited_s == 7.0 and github.requests_made == 2
    httpserver.check_assertions()


def test_rate_limit_longer_than_max_wait_is_not_waited(tmp_path, httpserver):
    httpserver.expect_request("/x").respond_with_json({"message": "slow down"}, status=429,
                                                      headers={"Retry-After": "3600"})
    base = httpserver.url_for("/").rstrip("/")
    sleeps: list[float] = []
    github = client(settings_for(tmp_path, http_max_wait_s=60.0), base, sleeps)
    with pytest.raises(RateLimited, match=r"rate limit exhausted .*longer than REPO_SCOPING_HTTP_MAX_WAIT_S=60"):
        github.get(f"{base}/x")
    assert sleeps == [] and len(httpserver.log) == 1


def test_rate_limit_still_exhausted_after_the_retries(tmp_path, httpserver):
    httpserver.expect_request("/x").respond_with_json({"message": "slow down"}, status=429,
                                                      headers={"Retry-After": "2"})
    base = httpserver.url_for("/").rstrip("/")
    sleeps: list[float] = []
    github = client(settings_for(tmp_path, http_retries=1), base, sleeps)
    with pytest.raises(RateLimited, match=r"still exhausted after 2 attempts \(429 on /x\)"):
        github.get(f"{base}/x")
    assert sleeps == [2.0] and len(httpserver.log) == 2


def test_conditional_get_answers_304(tmp_path, httpserver):
    httpserver.expect_request("/x", headers={"If-None-Match": '"v1"'}).respond_with_data("", status=304)
    base = httpserver.url_for("/").rstrip("/")
    answer = client(settings_for(tmp_path), base, []).get(f"{base}/x", etag='"v1"')
    assert answer.not_modified and answer.data is None


# --- the openai SDK: its own retries, and egress on every request -----------------------------------------

def completion(content: str) -> dict:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "test-model",
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}


def llm_settings(tmp_path, base_url: str, **overrides) -> Settings:
    return settings_for(tmp_path, llm_provider="openai", llm_model="test-model", llm_base_url=base_url,
                        openai_api_key=API_KEY, llm_timeout_s=5.0, **overrides)


MESSAGES = [{"role": "user", "content": "hello"}]


def test_llm_500_then_200_is_retried_by_the_sdk(tmp_path, httpserver):
    httpserver.expect_ordered_request("/v1/chat/completions", method="POST").respond_with_response(
        Response('{"error": {"message": "oops"}}', status=500, content_type="application/json"))
    httpserver.expect_ordered_request("/v1/chat/completions", method="POST").respond_with_json(
        completion('{"abilities": []}'))
    llm = _Client(llm_settings(tmp_path, httpserver.url_for("/v1"), llm_retries=2))
    assert llm.client.max_retries == 2
    assert llm.complete(MESSAGES, 100) == '{"abilities": []}'
    assert len(httpserver.log) == 2 and llm.calls == 2 and (llm.prompt_tokens, llm.completion_tokens) == (10, 5)
    first, second = (request for request, _ in httpserver.log)
    assert first.headers.get("x-stainless-retry-count") == "0"
    assert second.headers.get("x-stainless-retry-count") == "1"  # the SDK's retry, not ours
    httpserver.check_assertions()


def test_llm_server_error_every_time_fails_clearly(tmp_path, httpserver):
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_response(
        Response("<html>502 Bad Gateway</html>", status=502, content_type="text/html"))
    llm = _Client(llm_settings(tmp_path, httpserver.url_for("/v1"), llm_retries=1))
    with pytest.raises(LlmFailure, match=r"^HTTP 502 after 2 attempt\(s\)$"):
        llm.complete(MESSAGES, 100)
    assert len(httpserver.log) == 2


def test_llm_redirect_to_a_host_not_allowed_is_refused(tmp_path, httpserver, outside_server):
    outside_server.expect_request("/v1/chat/completions").respond_with_json(completion("{}"))
    httpserver.expect_request("/v1/chat/completions", method="POST").respond_with_response(
        Response(status=307, headers={"Location": outside_server.url_for("/v1/chat/completions")}))
    llm = _Client(llm_settings(tmp_path, httpserver.url_for("/v1"), llm_retries=2))
    with pytest.raises(LlmFailure) as refused:
        llm.complete(MESSAGES, 100)
    assert f"{OUTSIDE!r} is not in REPO_SCOPING_ALLOWED_HOSTS" in str(refused.value)
    assert API_KEY not in str(refused.value)
    assert outside_server.log == [] and len(httpserver.log) == 1  # refused, not retried, never connected


def test_embeddings_use_the_sdk_retries_and_the_egress_hook(tmp_path, httpserver, outside_server):
    httpserver.expect_ordered_request("/v1/embeddings", method="POST").respond_with_response(
        Response('{"error": {"message": "busy"}}', status=503, content_type="application/json"))
    httpserver.expect_ordered_request("/v1/embeddings", method="POST").respond_with_json(
        {"object": "list", "model": "e", "usage": {"prompt_tokens": 2, "total_tokens": 2},
         "data": [{"object": "embedding", "index": 0, "embedding": [0.5] * 8}]})
    settings = llm_settings(tmp_path, httpserver.url_for("/v1"), llm_retries=1, embedding_dim=8)
    embedder = OpenAIEmbedder(settings)
    assert embedder.embed(["hello"]) == [[0.5] * 8]
    assert len(httpserver.log) == 2
    assert json.loads(httpserver.log[1][0].data)["input"] == ["hello"]

    httpserver.clear()
    httpserver.expect_request("/v1/embeddings", method="POST").respond_with_response(
        Response(status=302, headers={"Location": outside_server.url_for("/v1/embeddings")}))
    with pytest.raises(Exception, match="not in REPO_SCOPING_ALLOWED_HOSTS"):
        embedder.embed(["hello"])
    assert outside_server.log == []


def test_requests_itself_would_have_followed(tmp_path, httpserver, outside_server, monkeypatch):
    """Sanity for the refusal tests: a bare requests.Session does follow the same redirect."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", outside_server.ca_bundle)
    outside_server.expect_request("/steal").respond_with_json({})
    httpserver.expect_request("/x").respond_with_response(
        Response(status=302, headers={"Location": outside_server.url_for("/steal")}))
    with requests.Session() as session:
        assert session.get(httpserver.url_for("/x"), timeout=5).status_code == 200
    assert len(outside_server.log) == 1
