"""The OpenAI-wire upstream simulator used by tests, benchmarks and the quickstart demo.

Run it with ``bastion simulate [--host 127.0.0.1] [--port 9000] [--api-key K]
[--latency-ms 0]`` or in-process with ``create_app(SimulatorOptions(...))`` (a raw ASGI
app, e.g. behind ``httpx.ASGITransport``).

Endpoints (also under Azure's ``/openai/deployments/{deployment}/...?api-version=``,
where the deployment is the model): ``POST /v1/chat/completions`` (JSON or
``stream: true`` SSE, ``stream_options.include_usage``, ``n``, tool calls,
``response_format``, ``logprobs``), ``POST /v1/responses`` (JSON or the event stream;
``include`` of the output text's logprobs; the request's parameters repeated in the
response; ``background: true`` answers ``queued`` with no output),
``POST /v1/embeddings`` (deterministic vectors, ``dimensions``, ``encoding_format``),
``GET /v1/models`` and ``GET /v1/models/{id}`` (every model id is accepted). Errors
use OpenAI's body ``{"error": {"message", "type", "param", "code"}}``: 400 bad JSON,
401 bad key (when ``api_key`` is set it must match ``Authorization: Bearer`` or the
Azure ``api-key`` header; otherwise any non-empty key passes), 404 unknown path.

Answers
    By default the model ECHOES: its content is the text of the last user message
    (Responses: the last user input), so a test sees what the upstream received.
    With ``response_format``/``text.format`` ``json_object`` it answers
    ``{"echo": text}``; with ``json_schema`` an object fitting the schema (strings
    carry the text, numbers are 0). ``max_tokens``/``max_completion_tokens`` cut the
    text (finish reason ``length``); ``max_output_tokens`` makes the response
    ``incomplete``.

Control API (no authentication)
    ``POST /_sim/script`` ``{"replies": [R, ...], "model": "gpt-4o"}`` queues replies
    consumed FIFO by the next requests (only requests for that model when ``model`` is
    given, so parallel tests do not interfere). A reply ``R`` is one of
    ``{"content": "text"}``, ``{"refusal": "text"}`` (chat ``message.refusal`` or
    ``delta.refusal`` pieces; Responses a ``refusal`` content part and
    ``response.refusal.delta`` events), ``{"tool_calls": [{"name": "f", "arguments": "{...}"}]}``,
    ``{"fault": "NAME", ...params}``, ``{"status": 500}``; any reply may carry
    ``"times": N`` to serve the next N requests. ``"citations": [{"url", "title",
    "quote"}]`` beside ``content`` (or alone, citing the echo) adds ``url_citation``
    annotations placed at each quote's first occurrence in the answer (offsets in code
    points, end exclusive): chat ``message.annotations``, streamed in the last chunk's
    ``delta.annotations``; Responses ``output_text`` annotations, streamed as
    ``response.output_text.annotation.added`` after the delta completing the quote.
    ``DELETE /_sim/script`` drops them.
    ``GET /_sim/captures`` → ``{"captures": [{"path", "method", "headers",
    "body", "received_at"}]}`` (headers lower-cased, body parsed JSON or null, newest
    last, at most ``capture_limit``); ``DELETE /_sim/captures`` clears them.
    ``GET /_sim/stats`` → request counts by route, status and fault;
    ``POST /_sim/reset`` clears everything; ``GET /_sim/health``.

In-text directives (the gateway forwards the text, so a test can steer the upstream)
    A last user message containing ``[[sim:fault=NAME]]`` or
    ``[[sim:fault=NAME,key=value,...]]`` applies that fault to this request;
    ``[[sim:tool=NAME]]`` makes the model call tool NAME with arguments ``{}``.
    A scripted reply, when queued, wins over a directive.

Faults (parameters in brackets, defaults after ``=``)
    ``status`` [status=500, code, message, type]: that status with an OpenAI error
    body (e.g. ``status=400,code=context_length_exceeded``).
    ``rate_limit`` [seconds=1]: 429 with ``Retry-After`` and ``retry-after-ms``.
    ``html_200``: 200 ``text/html`` page instead of JSON.
    ``slow_first_byte`` [seconds=5]: wait before the response starts.
    ``stall`` [seconds=30, after=2]: send ``after`` events, pause, then finish.
    ``error_mid_stream`` [after=2, message]: send ``after`` events, then
    ``data: {"error": {...}}`` (Responses: an ``error`` event) and end, no ``[DONE]``.
    ``disconnect`` [after=2]: send ``after`` events, then drop the connection without
    ending the chunked body.
    ``truncated`` [after=2]: end the body cleanly in the middle of an event.
    ``garbled`` [after=2]: insert an event whose data is not JSON.
    ``no_done``: omit ``data: [DONE]`` (Responses: omit ``response.completed``).
    ``crlf``: frame events with ``\\r\\n``.
    ``comments``: ``: keep-alive`` comment lines between events.
    ``pace`` [per_s=50]: send the events that many a second, as a model generating
    tokens does (a real model streams about 20-100 a second).
    ``big_event``: the content is one ~5 MB event (JSON answers: a ~5 MB body).
    ``split_utf8`` [bytes=1]: send the body in pieces of that many bytes, splitting
    multi-byte characters; an ASCII answer is prefixed with ``héllo wörld 日本``.
    Non-streamed JSON answers cut in the middle of the body for ``stall``,
    ``disconnect``, ``truncated``; ``garbled`` sends invalid JSON.

Usage
    Token counts come from ``bastion.testing.tokens`` (``count_tokens``,
    ``chat_prompt_tokens``, ``responses_input_tokens``), so tests can compute the
    expected ``usage`` exactly.
"""

from bastion.testing.simulator import Simulator, SimulatorOptions, create_app
from bastion.testing.tokens import count_tokens

__all__ = ["Simulator", "SimulatorOptions", "count_tokens", "create_app"]
