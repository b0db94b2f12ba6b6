"""POST /ask (JSON, or Server-Sent Events with "stream": true), GET and DELETE /conversations/{id}."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Path
from fastapi.responses import StreamingResponse

from ..ask import pipeline
from ..services import Services
from ..storage import conversations as store
from .deps import services
from .errors import ApiError
from .models import AskRequest, AskResponse, Conversation, ConversationDeleted, error_responses

router = APIRouter()
_ID = Path(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


def _sse(name: str, payload: dict) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, default=str)}\n\n"


@router.post("/ask", summary="Answer a question with numbered citations (JSON or Server-Sent Events)",
             response_model=AskResponse, responses={
                 **error_responses(400, 404, 503),
                 200: {"content": {"text/event-stream": {}}, "description": "The answer (JSON), or with "
                       "\"stream\": true the events sources, delta ({\"text\"}), done (the JSON) or error"}})
def ask(body: AskRequest, svc: Services = Depends(services)):
    """Sources are retrieved first and numbered [1]..[k]; the answer cites them with [n] markers, each
    checked (a marker for a number not given is removed and counted ungrounded_claim). Without a model
    configured the answer is extractive: the best passages and facts, each cited."""
    try:
        prepared = pipeline.prepare(svc, body.question, body.repository, body.conversation_id)
    except pipeline.AskError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None
    if body.stream:
        def stream():
            for name, payload in pipeline.events(svc, prepared):
                if name == "done":  # the same JSON as the non-streamed answer
                    payload = AskResponse.model_validate(payload).model_dump(mode="json")
                yield _sse(name, payload)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    for name, payload in pipeline.events(svc, prepared):
        if name == "done":
            return payload
        if name == "error":
            raise ApiError(503, payload["code"], payload["message"])
    raise ApiError(503, "ask_failed", "no answer was produced")


@router.get("/conversations/{conversation_id}", summary="A conversation's turns with their citations",
            response_model=Conversation, responses=error_responses(400, 404, 503))
def get_conversation(conversation_id: str = _ID, svc: Services = Depends(services)) -> dict:
    return store.get_conversation(svc.reader, conversation_id)


@router.delete("/conversations/{conversation_id}", summary="Remove a conversation and its turns",
               response_model=ConversationDeleted, responses=error_responses(400, 404, 503))
def delete_conversation(conversation_id: str = _ID, svc: Services = Depends(services)) -> dict:
    turns = store.delete_conversation(svc.engine, conversation_id)
    return {"conversation_id": conversation_id, "deleted": True, "turns": turns}
