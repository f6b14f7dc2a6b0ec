"""Cases: register, read (now or in the past), act, and read the history."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import MISSING, fields
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Header, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict

from mediation.api.deps import CurrentActor, ServicesDep
from mediation.api.errors import (
    CONFLICT,
    FORBIDDEN,
    MALFORMED,
    NOT_FOUND,
    STALE,
    UNAUTHENTICATED,
)
from mediation.application import ActionInfo, CaseView, HistoryEntry, Saved
from mediation.domain import commands as c
from mediation.domain.errors import InvalidFieldError, NotFoundError

router = APIRouter(prefix="/api/v1/cases", tags=["cases"], responses=UNAUTHENTICATED | FORBIDDEN)

for _command in (c.Register, c.NewParty, *c.ACTION_COMMANDS.values()):
    # Unknown fields are typos, not extras to ignore: refuse them, naming the field.
    _command.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]


class ActionResult(BaseModel):
    """What an action left: the case's new version, phase and status, and the log position."""

    id: UUID
    action: str
    version: int
    phase: str
    status: str
    position: int | None
    case: CaseView


def _etag(version: int) -> str:
    return f'"{version}"'


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidFieldError("If-Match", 'must be a case version, e.g. 3 or "3"')
    return int(text)


# The log position of a registration's event, for `after=` on the views (read your writes).
LOG_POSITION = "Log-Position"


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CaseView,
    responses=MALFORMED
    | CONFLICT
    | {
        201: {
            "headers": {
                LOG_POSITION: {
                    "description": "The event log position of the registration, for `after=` "
                    "on the queue, audit and stats (absent when an Idempotency-Key replayed it)",
                    "schema": {"type": "integer"},
                }
            }
        }
    },
)
def register_case(
    body: c.Register,
    actor: CurrentActor,
    services: ServicesDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CaseView:
    """Register a dispute at the caller's center (or `center`, for a supervisor, below theirs).

    With an `Idempotency-Key` header a retry returns the case the first call registered. The
    `Log-Position` header is the position of the registration's event in the log.
    """
    saved = services.cases.register(body, actor, idempotency_key)
    response.headers["Location"] = f"{router.prefix}/{saved.view.id}"
    response.headers["ETag"] = _etag(saved.view.version)
    if not saved.created:
        response.headers["Idempotent-Replayed"] = "true"
    if saved.position is not None:
        response.headers[LOG_POSITION] = str(saved.position)
    return saved.view


@router.get("/{case_id}", response_model=CaseView, responses=NOT_FOUND)
def read_case(
    case_id: UUID,
    actor: CurrentActor,
    services: ServicesDep,
    response: Response,
    as_of_version: Annotated[int | None, Query(ge=1)] = None,
    as_of: Annotated[datetime | None, Query()] = None,
) -> CaseView:
    """The case now, or as it was at version `as_of_version` or at the moment `as_of` (ISO 8601)."""
    view = services.cases.case(case_id, actor, version=as_of_version, as_of=as_of)
    response.headers["ETag"] = _etag(view.version)
    return view


@router.get("/{case_id}/actions", response_model=list[ActionInfo], responses=NOT_FOUND)
def available_actions(
    case_id: UUID, actor: CurrentActor, services: ServicesDep
) -> list[ActionInfo]:
    """The actions the caller may take on the case now; `blocked_by` names a guard that refuses one for now."""
    return services.cases.available_actions(case_id, actor)


@router.get("/{case_id}/history", response_model=list[HistoryEntry], responses=NOT_FOUND)
def case_history(case_id: UUID, actor: CurrentActor, services: ServicesDep) -> list[HistoryEntry]:
    """Every event of the case in order: version, type, time, actor, data, status before and after."""
    return services.cases.history(case_id, actor)


def _action_endpoint(command: type[c.Command]) -> Callable[..., ActionResult]:
    def endpoint(**kwargs: Any) -> ActionResult:
        body = kwargs["body"] if kwargs["body"] is not None else command()
        saved: Saved = kwargs["services"].cases.act(
            kwargs["case_id"], body, kwargs["actor"], _expected_version(kwargs["if_match"])
        )
        kwargs["response"].headers["ETag"] = _etag(saved.view.version)
        view = saved.view
        return ActionResult(
            id=view.id,
            action=command.ACTION,
            version=view.version,
            phase=view.phase,
            status=view.status,
            position=saved.position,
            case=view,
        )

    optional = all(f.default is not MISSING for f in fields(command))
    body_default = None if optional else inspect.Parameter.empty
    body_type: Any = command | None if optional else command
    parameters = [
        ("case_id", UUID, Path(), inspect.Parameter.empty),
        ("actor", CurrentActor, None, inspect.Parameter.empty),
        ("services", ServicesDep, None, inspect.Parameter.empty),
        ("response", Response, None, inspect.Parameter.empty),
        ("body", Annotated[body_type, Body()], None, body_default),
        ("if_match", Annotated[str | None, Header(description="The version acted on")], None, None),
    ]
    endpoint.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default
            )
            for name, kind, _unused, default in parameters
        ]
    )
    endpoint.__name__ = command.ACTION
    endpoint.__doc__ = command.__doc__
    return endpoint


ACTION_DOCS = {
    "amend": "Change registration details (intake and routing only).",
    "grade_risk": "Grade the dispute's risk: low, medium, high or red.",
    "accept": "Accept the dispute for mediation (intake -> routing).",
    "reject": "Decline to accept (不予受理), with the reason; the case closes as rejected.",
    "route": "Route the case to a mediator of this center (routing -> mediation).",
    "transfer": "Offer the case to another unit; it waits for that unit to receive or return it.",
    "receive_transfer": "The receiving unit takes the case (-> mediation), optionally naming a mediator.",
    "return_transfer": "The receiving unit hands the case back to routing, with a reason.",
    "record_consent": "Record a party's consent to mediation, or their refusal (PML art. 17).",
    "assign_mediator": "Assign another mediator (recusal), with the reason.",
    "schedule_session": "Schedule a mediation session; every party must have consented.",
    "record_session": "Record a session held, with its summary.",
    "extend_deadline": "Extend the mediation deadline once, with every party's consent.",
    "reach_agreement": "Record the agreement signed by every party (-> closure, in force).",
    "terminate": "End mediation without agreement (调解不成), naming the referral given.",
    "withdraw": "The applicant withdraws; the case closes as withdrawn.",
    "apply_judicially": "Record that the parties applied to a court for judicial confirmation "
    "(within 30 days of the agreement; default: today).",
    "confirm_judicially": "Record the court's decision on judicial confirmation (司法确认).",
    "record_follow_up": "Record the follow-up visit (回访): was the agreement performed?",
    "close": "Close a case with an agreement after its follow-up: resolved or breached.",
    "reopen": "Reopen a closed case (supervisor), with the reason; it returns to mediation.",
    "add_note": "Add a note to the case file.",
    "attach_document": "Attach a document's metadata (title, reference, media type, checksum).",
    "escalate": "Escalate the case up the center hierarchy (one level by default).",
    "supervise": "Record a supervision instruction (督办) with its due date.",
    "answer_supervision": "Answer a supervision instruction (numbered from 1); answered by its "
    "due date, it does not escalate.",
}

for _name, _command in c.ACTION_COMMANDS.items():
    router.add_api_route(
        f"/{{case_id}}/actions/{_name}",
        _action_endpoint(_command),
        methods=["POST"],
        response_model=ActionResult,
        responses=MALFORMED | NOT_FOUND | CONFLICT | STALE,
        summary=_name.replace("_", " ").capitalize(),
        description=ACTION_DOCS[_name] + " Send `If-Match: <version>` to act only on that version.",
        operation_id=f"case_action_{_name}",
        tags=["case actions"],
    )


@router.post("/{case_id}/actions/{action}", include_in_schema=False)
def unknown_action(case_id: UUID, action: str, actor: CurrentActor) -> None:
    """Any action name the engine does not know."""
    known = ", ".join(c.ACTION_COMMANDS)
    raise NotFoundError(f"no action '{action}'; actions: {known}")
