"""Abilities: what a repository can do, as candidates grounded in facts and chunks, reviewed by people.

rules.py derives candidates from observed facts (always on); llm.py asks an OpenAI-compatible model
(when REPO_SCOPING_LLM_PROVIDER=openai) and keeps only claims that quote the chunks it was shown;
guardrails.py counts what was detected or dropped (all three pure of storage); pipeline.py runs
both for one repository and stores them, records review decisions and publishes the approved
abilities.
"""
