"""One entry point: decode and parse a request body for an endpoint."""

from __future__ import annotations

from bastion.model import Endpoint
from bastion.wire.body import decode_json_object
from bastion.wire.chat import walk_chat
from bastion.wire.embeddings import walk_embeddings
from bastion.wire.request import ParsedRequest, Walker, WireOptions, parse_request
from bastion.wire.responses import walk_responses

WALKERS: dict[Endpoint, Walker] = {
    Endpoint.CHAT: walk_chat,
    Endpoint.RESPONSES: walk_responses,
    Endpoint.EMBEDDINGS: walk_embeddings,
}


def parse_body(raw: bytes, endpoint: Endpoint, options: WireOptions) -> ParsedRequest:
    """Decode ``raw`` strictly and normalise it into a conversation (400 on bad input)."""
    return parse_request(decode_json_object(raw), endpoint, options, WALKERS[endpoint])
