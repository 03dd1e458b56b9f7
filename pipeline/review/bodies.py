"""What each JSON request of the review page may hold, checked by type before anything is done.

Every body is parsed by pydantic straight from its bytes (strict: ``"13"`` is not a number and
``"srt,docx"`` is not a list), so a wrong type is a 400 that names the field, never a 500 from a
cast deep inside. Its JSON parser refuses deep nesting by itself. The gate (gate.py) has already
capped the body's size; the handler has already checked the login before it reads the body.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request

from .gate import JSON_TYPE

BIG = 2**31 - 1  # SQLite and the page both count segments and revisions far below this
Count = Annotated[int, Field(ge=0, le=BIG)]
Text = Annotated[str, Field(max_length=100_000)]
Short = Annotated[str, Field(max_length=500)]


class Body(BaseModel):
    """Strict types, and a field the server does not know is an error rather than ignored."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Authored(Body):
    """Edits name who made them; in single-token mode the page sends the name typed there."""

    reviewer: Short | None = None


class Changes(Body):
    text: Text | None = None
    english: Text | None = None
    language: Short | None = None
    speaker: Short | None = None
    reviewed: bool | None = None


class Save(Authored):
    revision: Count
    changes: Changes


class Split(Authored):
    revision: Count
    at: FiniteFloat
    offset: Count


class Merge(Authored):
    revision: Count
    next_revision: Count


class Translate(Authored):
    revision: Count
    replace: bool = False


class Status(Authored):
    status: Literal["unreviewed", "in_progress", "reviewed"]


class RenameSpeaker(Authored):
    old: Short
    new: Short


class MergeSpeakers(Authored):
    merge: Short  # the label that goes away
    into: Short  # the label its segments take


class Withhold(Body):
    terms: list[Short] = Field(default_factory=list, max_length=1000)
    segments: list[Count] = Field(default_factory=list, max_length=100_000)


class Export(Body):
    formats: Short | None = None  # comma-separated, as on the command line: "srt,docx"
    allow_unreviewed: bool = False
    # Witness protections (config.PROTECTIONS); none given: the interview's own (its sidecar's)
    protect: list[Literal["names", "voice", "faces"]] | None = Field(None, max_length=3)
    without_protection: bool = False  # an admin's waiver of a protected interview's protections


class Search(Body):
    query: Short
    case: Short | None = None
    language: Short | None = None


class AccountChange(Body):
    name: Short


class Nothing(Body):
    """A post that carries no data (the page sends ``{}``)."""


B = TypeVar("B", bound=Body)


def describe(error: ValidationError) -> str:
    """The first problem in words a person can act on: which field, and what it should be."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "json_invalid":
        return f"the request body is not valid JSON ({first['msg'].removeprefix('Invalid JSON: ')})"
    if first["type"] == "model_type":
        return (
            f"{where}: must be a JSON object" if where else "the request body must be a JSON object"
        )
    if first["type"] == "extra_forbidden":
        return f"unknown field {where!r} in the request"
    return f"{where or 'body'}: {first['msg']}"


async def read(request: Request, model: type[B]) -> B:
    """The request's JSON body as ``model``, or a 4xx that says what is wrong with it."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != JSON_TYPE:
        raise HTTPException(415, f"posts must be JSON (Content-Type: {JSON_TYPE})")
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        raise HTTPException(400, describe(exc)) from None
