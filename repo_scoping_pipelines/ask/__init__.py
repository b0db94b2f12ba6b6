"""Ask: grounded answers about the stored repositories, with numbered citations, streaming and conversations.

Pure modules: `sources` (numbered sources made safe for a prompt), `prompt` (the messages), `grounding`
(citation validation, also while streaming), `extractive` (the answer without a model), `tools` (lookups
over stored data offered to a model as tool calls); `llm` (the OpenAI-compatible client, shared with
ability extraction); `pipeline` (retrieval from storage, the answer loop, conversations).
"""
