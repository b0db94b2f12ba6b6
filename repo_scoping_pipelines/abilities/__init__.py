"""Abilities: what a repository can do, as candidates grounded in facts and chunks, reviewed by people.

rules.py derives candidates from observed facts (always on); llm.py asks an OpenAI-compatible model
(when REPO_SCOPING_LLM_PROVIDER=openai) and keeps only claims that quote the chunks it was shown;
guardrails.py counts what was detected or dropped; candidates.py runs both for one repository;
review.py records decisions; registry.py publishes the approved abilities.
"""
