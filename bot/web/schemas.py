"""The admin API's request and response bodies. Validation happens here, field by field, so bad input
is a 422 naming the field, and nothing the store would choke on (NUL bytes, lone surrogates, dates
beyond what a timestamp holds) gets past it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.services.drafts import MAX_BODY, MAX_OPTION, MAX_TITLE
from content.models import CtaKind, PostKind


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("is out of range") from None


def _text(min_length: int, max_length: int) -> tuple[StringConstraints, AfterValidator]:
    # Length first, then the storable check (a constraint after a validator reads "items", not characters).
    return StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_storable)


Moment = Annotated[AwareDatetime, AfterValidator(_utc)]
Title = Annotated[str, *_text(1, MAX_TITLE)]
Body = Annotated[str, *_text(0, MAX_BODY)]
Url = Annotated[str, *_text(1, 2000)]
Reason = Annotated[str, *_text(0, 1000)]
Tag = Annotated[str, *_text(1, 64)]
Option = Annotated[str, *_text(1, MAX_OPTION)]
CsvText = Annotated[str, *_text(0, 5_000_000)]
SearchWords = Annotated[str, *_text(1, 200)]
PostId = Annotated[int, Field(ge=1, le=2**31 - 1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------------------------------------
# Input


class CallToActionIn(Strict):
    kind: CtaKind = CtaKind.NONE
    options: list[Option] = Field(default_factory=list, max_length=10, description="poll: 2–10; rsvp: none or 2–10")
    url: Url | None = Field(default=None, validate_default=True, description="link only: an http(s) URL")
    deadline: Moment | None = Field(default=None, description="acknowledge, rsvp and poll only; with a UTC offset")

    @field_validator("options")
    @classmethod
    def _options_fit(cls, options: list[str], info: ValidationInfo) -> list[str]:
        kind = info.data.get("kind")
        if kind == CtaKind.POLL and not 2 <= len(options) <= 10:
            raise ValueError("a poll needs 2 to 10 options")
        if kind == CtaKind.RSVP and options and not 2 <= len(options) <= 10:
            raise ValueError("an rsvp takes no options (yes/no/maybe) or 2 to 10")
        if kind not in (CtaKind.POLL, CtaKind.RSVP) and options:
            raise ValueError("only poll and rsvp take options")
        if len(set(o.strip() for o in options)) != len(options):
            raise ValueError("the options must differ from each other")
        return options

    @field_validator("url")
    @classmethod
    def _url_fits(cls, url: str | None, info: ValidationInfo) -> str | None:
        kind = info.data.get("kind")
        if kind == CtaKind.LINK and not (url and url.strip().lower().startswith(("http://", "https://"))):
            raise ValueError("a link call to action needs an http(s) URL")
        if kind != CtaKind.LINK and url:
            raise ValueError("only a link call to action takes a URL")
        return url

    @field_validator("deadline")
    @classmethod
    def _deadline_fits(cls, deadline: datetime | None, info: ValidationInfo) -> datetime | None:
        if deadline is not None and info.data.get("kind") not in (CtaKind.ACKNOWLEDGE, CtaKind.RSVP, CtaKind.POLL):
            raise ValueError("only acknowledge, rsvp and poll take a deadline")
        return deadline


class PostIn(Strict):
    title: Title
    body: Body = ""
    kind: PostKind = PostKind.NEWS
    call_to_action: CallToActionIn = Field(default_factory=CallToActionIn)
    to: list[Tag] = Field(
        default_factory=lambda: ["everyone"], min_length=1, max_length=20, description="audience tags"
    )
    publish_at: Moment | None = Field(default=None, description="later: the post is scheduled; with a UTC offset")
    urgent: bool = False
    direct: bool = Field(
        default=False,
        description="a must-read (acknowledge) sent privately to each person of the audience instead of the channels",
    )
    paid_broadcast: StrictBool = Field(
        default=False,
        description="Telegram only: send with allow_paid_broadcast, up to [telegram] paid_broadcast_rate messages/s "
        "for 0.1 Telegram Stars per message from the bot's balance; other platforms ignore it",
    )
    review: bool = Field(default=False, description="submit for approval instead of publishing")

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, title: str) -> str:
        if not title.strip():
            raise ValueError("the title must not be blank")
        return title


class PostEditIn(Strict):
    """``PATCH /api/posts/{id}``: what to change; a field left out stays. ``call_to_action`` restates it:
    the post's own kind (another is a 422 on ``call_to_action.kind``), new options only until someone voted."""

    title: Title | None = None
    body: Body | None = None
    call_to_action: CallToActionIn | None = None

    @field_validator("title")
    @classmethod
    def _title_not_blank(cls, title: str | None) -> str | None:
        if title is not None and not title.strip():
            raise ValueError("the title must not be blank")
        return title

    @model_validator(mode="after")
    def _something_to_change(self) -> PostEditIn:
        if self.title is None and self.body is None and self.call_to_action is None:
            raise ValueError("say what to change: title, body or call_to_action")
        return self


class ReasonIn(Strict):
    reason: Reason = ""


class EmployeeImportIn(Strict):
    csv: CsvText = Field(
        description="CSV (header: email,name,department,location,language,telegram,slack,matrix[,identities]) "
        "or JSON lines with the same keys"
    )


# ---------------------------------------------------------------------------------------------
# Output


class CallToActionOut(BaseModel):
    kind: str
    options: list[str]
    url: str | None
    deadline: datetime | None


class PlatformOut(BaseModel):
    platform: str
    channels: int
    reach: int | None = Field(
        description="people reached on this platform (members of its channels at delivery, and responders); "
        "null for a platform without channels (web clicks)"
    )
    reach_estimate: bool = Field(description="true where a partial channel's member count stands in (Telegram)")
    engaged: int = Field(description="distinct people who responded in any way")
    completed: int | None = Field(description="distinct people who did what the call to action asks")
    engagement_rate: float | None
    completion_rate: float | None


class ChannelDeliveryOut(BaseModel):
    delivery_id: int
    channel: str
    platform: str
    state: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


class PostOut(BaseModel):
    id: int
    title: str
    body: str
    kind: str
    state: str
    call_to_action: CallToActionOut
    to: list[str]
    publish_at: datetime | None
    published_at: datetime | None
    urgent: bool
    direct: bool = Field(description="sent privately to people (a segment, or direct), not to channels")
    paid_broadcast: bool
    author: str | None
    source: str | None
    reject_reason: str | None
    click_url: str | None
    created_at: datetime
    revision: int = Field(default=0, description="raised by every edit; 0: as first written")
    counts: dict[str, int] = Field(description="response kind → distinct people")
    votes: dict[str, int] = Field(description="poll/rsvp option → distinct people")
    deliveries: dict[str, int] = Field(description="delivery state → count")
    reach: int = Field(description="distinct people reached, a linked person once across platforms")
    reach_estimate: bool = Field(
        description="true when a partial channel's member count (Telegram) stands in for people not known by name"
    )
    reach_known: int = Field(description="the people reached who are known by name (equal to reach when exact)")
    engaged: int
    engagement_rate: float | None
    cta_completion: float | None


class PostDetailOut(PostOut):
    platforms: list[PlatformOut]
    channels: list[ChannelDeliveryOut]


class ChannelOut(BaseModel):
    id: int
    name: str
    platform: str
    chat_id: str
    tags: list[str]
    enabled: bool
    disabled_reason: str | None
    member_count: int | None


class ResponseOut(BaseModel):
    id: int
    post_id: int
    post_title: str
    kind: str
    value: str | None
    text: str | None
    platform: str
    employee_id: int
    employee_name: str
    identity: str
    created_at: datetime


class RowFailureOut(BaseModel):
    line: int
    reason: str


class DirectoryOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    identities_linked: int
    failed: list[RowFailureOut]


class EmployeeOut(BaseModel):
    id: int
    name: str
    email: str | None
    department: str | None
    location: str | None = None
    language: str | None = None
    identities: list[str]


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    post_id: int | None
    detail: dict[str, object]


class SearchHitOut(BaseModel):
    id: int
    title: str
    kind: str
    state: str
    published_at: datetime | None
    rank: float
    snippet: str = Field(description="a piece of the body; matched words are between ** and **")


class ErrorOut(BaseModel):
    detail: str
