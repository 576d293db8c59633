"""The console's human-review pages: a reviewer's queue, one case judged side by side, and the
requester's own cases with what was released. Each page runs the review extension operations
(ListReviewCases, GetReviewCase, DecideReviewCase) through the governed call, like the API.
"""

from __future__ import annotations

import base64
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..analysis.similarity import fmr_for_similarity
from ..operations.review import is_reviewer
from .actions import run_operation
from .pages import form_text, page, read_form, redirect, render, required_purpose
from .session import ConsoleUser, session_purpose, set_purpose


def _data_url(jpeg: bytes | None) -> str | None:
    return None if jpeg is None else "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


def _one_in(similarity: float) -> str:
    """What a Similarity stands for, in words: the false-match rate of its threshold, to two
    significant digits (the calibration is no more precise)."""
    return f"1 in {float(f'{1 / fmr_for_similarity(similarity):.2g}'):,.0f}"


@page
async def queue(request: Request, user: ConsoleUser) -> Response:
    purpose = session_purpose(request)
    mine = await run_operation(request, user, "ListReviewCases", {"Role": "REQUESTER"}, purpose)
    # Only a reviewer asks for the queue: anyone else would leave a refusal in the audit log at
    # every visit of the page that shows their own cases.
    to_review = None
    if await anyio.to_thread.run_sync(is_reviewer, user.context(purpose)):
        listed = await run_operation(
            request, user, "ListReviewCases", {"Role": "REVIEWER", "Status": "OPEN"}, purpose)
        to_review = listed["ReviewCases"]
    return render(request, "review_queue.html", user, mine=mine["ReviewCases"],
                  to_review=to_review)


@page
async def case(request: Request, user: ConsoleUser) -> Response:
    case_id = request.path_params["case_id"]
    found = await run_operation(request, user, "GetReviewCase", {"CaseId": case_id},
                                session_purpose(request))
    candidates: list[dict[str, Any]] = [
        {**c, "image": _data_url(c.get("ReferenceImage")), "one_in": _one_in(c["Similarity"])}
        for c in found.get("Candidates", [])
    ]
    return render(request, "review_case.html", user, case=found, candidates=candidates,
                  probe=_data_url(found.get("ProbeImage")),
                  reviewing="Candidates" in found and found["Status"] == "OPEN")


@page
async def decide(request: Request, user: ConsoleUser) -> Response:
    form = await read_form(request)
    purpose = required_purpose(form)
    set_purpose(request, purpose)
    case_id = request.path_params["case_id"]
    await run_operation(request, user, "DecideReviewCase", {
        "CaseId": case_id, "Decision": form_text(form, "decision"),
        "Reason": form_text(form, "reason"),
    }, purpose)
    return redirect(request, "console:review_queue")


ROUTES = [
    Route("/review", queue, name="review_queue"),
    Route("/review/{case_id}", case, name="review_case"),
    Route("/review/{case_id}/decide", decide, methods=["POST"], name="review_decide"),
]
