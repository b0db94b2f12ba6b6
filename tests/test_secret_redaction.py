"""Secrets written in repository text never reach a model: one test per secret kind through
`redact_secrets` (detect-secrets' detectors), and the ability prompt sent to a local
OpenAI-compatible server through the real client."""

from __future__ import annotations

import json

import dagster as dg
import pytest
from abilities_samples import README, SERVICE_FILES, materialize_abilities
from test_abilities_llm import PATH, completion, llm_settings, run
from werkzeug import Response

from repo_scoping_pipelines.collectors.registration import register_repository
from repo_scoping_pipelines.safety.redaction import SECRET_MASK, redact_secrets

# Built from parts so that no scanner mistakes this file for a leak; each has the real shape of its kind.
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
SLACK_TOKEN = "xoxb-" + "123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
STRIPE_KEY = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"
OPENAI_KEY = "sk-" + "proj" + "A" * 20 + "T3BlbkFJ" + "B" * 20
PRIVATE_KEY_BODY = "MIIEowIBAAKCAQEA7bq98Wq0Tq8cm1pJtYp3EXAMPLEKEYBODYONLYx9Z"
PRIVATE_KEY = ("-----BEGIN RSA " + "PRIVATE KEY-----\n" + PRIVATE_KEY_BODY + "\n"
               "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\n-----END RSA " + "PRIVATE KEY-----")

CASES = {
    "GitHub Token": f"export GITHUB_TOKEN={GITHUB_TOKEN}",
    "AWS Access Key": f"aws_access_key_id = {AWS_KEY}",
    "Slack Token": f"SLACK = '{SLACK_TOKEN}'",
    "Stripe Access Key": f"stripe.api_key = \"{STRIPE_KEY}\"",
    "OpenAI Token": f"OPENAI_API_KEY={OPENAI_KEY}",
    "Private Key": f"key.pem:\n{PRIVATE_KEY}\n",
}
SECRETS = {"GitHub Token": GITHUB_TOKEN, "AWS Access Key": AWS_KEY, "Slack Token": SLACK_TOKEN,
           "Stripe Access Key": STRIPE_KEY, "OpenAI Token": OPENAI_KEY, "Private Key": PRIVATE_KEY_BODY}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_each_secret_kind_is_masked_and_named(kind):
    text = f"Some prose before.\n{CASES[kind]}\nand after."
    out, kinds = redact_secrets(text)
    assert SECRETS[kind] not in out
    assert SECRET_MASK in out
    assert kind in kinds
    assert out.startswith("Some prose before.\n") and out.endswith("and after.")


def test_ordinary_code_is_left_alone():
    code = 'def parse_settings(env):\n    """Read REPO_SCOPING_* variables."""\n    return Settings(**env)\n'
    assert redact_secrets(code) == (code, [])


def test_secrets_in_a_readme_never_reach_the_ability_prompt(settings, make_repo, httpserver):
    leak = "\n".join(CASES.values())
    files = {**SERVICE_FILES, "README.md": README + "\n## Deploying\n\n" + leak + "\n"}
    repo = make_repo("invoicer", files)
    from repo_scoping_pipelines.services import open_services
    register_repository(open_services(settings), "invoicer", str(repo.path))
    with dg.instance_for_test() as instance:
        materialize_abilities(instance, "invoicer", candidates=False)

    prompts: list[str] = []

    def answer(request):
        prompts.append(json.dumps(json.loads(request.data)["messages"]))
        return Response(json.dumps(completion(json.dumps({"abilities": []}))), content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(answer)
    result, _ = run(llm_settings(settings, httpserver.url_for("/v1")))
    assert prompts, "the model was never asked"
    sent = prompts[0]
    assert "renders PDF invoices" in sent  # the README was in the prompt
    for secret in SECRETS.values():
        assert secret not in sent
    assert SECRET_MASK in sent
    assert result.guardrails["unsafe_content"] >= 1
