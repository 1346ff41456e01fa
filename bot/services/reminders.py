"""Must-read reminders: a private nudge before the deadline, a summary to the moderators at it.

For a published post with an acknowledge call to action and a deadline, ``before`` ahead of the deadline
everyone the post reached who has not acknowledged gets a private message on each of their platforms
(``Adapter.send_private``: a Telegram private chat, a Slack DM, a Matrix direct room, the console),
except people who opted out (``optout reminders`` or ``optout all``). Someone in their own quiet hours
(``quiet 18:00-08:00``) gets it when those end, if that is still before the deadline. At the deadline
the moderators hear "83 of 120 acknowledged".

Reach: the people who were members of a channel when it received the post, and everyone who responded
to it (``content.audience``); each is reminded on the platforms they were reached on. People a partial
channel (Telegram) knows only as a count get nothing private. Every reminder is recorded — and
claimed — before it is sent, so a restart or a second instance never sends it twice (at most once: a
crash between claim and send loses that one reminder rather than risk a duplicate in someone's private chat).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from adapters.base import Adapter, DeliveryError, UserRef
from bot.clock import Clock
from bot.i18n import SOURCE, Message, Moment, Translator
from bot.services.languages import PersonLanguages
from bot.services.notify import PrivateSender, send_directly
from bot.services.publishing import Tell
from content import audience, scheduling
from content.db import Store
from content.models import Employee, Post, PostState, ReminderKind, ReminderState, ResponseKind
from scheduler.ports import FollowUp
from scheduler.quiet import QuietHours

log = logging.getLogger("prikbord.reminders")

# After downtime, summaries of deadlines that passed at most this long ago are still sent; older
# ones (and every deadline before this feature was installed) are left alone.
SUMMARY_CATCH_UP = timedelta(hours=24)


def reach_words(reach: audience.Reach) -> Message | int:
    """A reach as people read it: ``120``, or ``about 340 (52 known by name)`` where it is an estimate."""
    if not reach.estimate:
        return reach.value
    return Message("about %(value)s (%(known)s known by name)", value=reach.value, known=reach.known)


class ReminderService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        adapters: Mapping[str, Adapter],
        tell: Tell,
        zone: ZoneInfo,
        before: timedelta,
        *,
        enabled: bool = True,
        send_private: PrivateSender = send_directly,
        languages: PersonLanguages | None = None,  # None: reminders and summaries in English
    ) -> None:
        self._languages = languages
        self._send_private = send_private  # bot/app.py passes the rate-paced one: reminders share the budget
        self._store = store
        self._clock = clock
        self._adapters = adapters
        self._tell = tell
        self._zone = zone
        self._before = before
        self._enabled = enabled

    def remind_at(self, post: Post) -> datetime | None:
        """When the reminder round of ``post`` is due; None when there is none. A post published after
        that moment gets no reminder: it has only just arrived."""
        if not self._enabled or post.cta_deadline is None:
            return None
        at = post.cta_deadline - self._before
        published = post.published_at or post.publish_at
        if published is not None and at < published:
            return None
        return at

    async def follow_ups(self, post_ids: Sequence[int] | None = None) -> list[FollowUp]:
        now = self._clock.now()
        async with self._store.sessions() as session:
            must_reads = await scheduling.must_reads_with_deadline(session, now - SUMMARY_CATCH_UP, post_ids)
            records = await scheduling.reminder_records(session, [p.id for p in must_reads])
        found = []
        for post in must_reads:
            assert post.cta_deadline is not None
            kinds = {r.kind for r in records[post.id]}
            if ReminderKind.SUMMARY not in kinds:
                found.append(FollowUp("summary", post.id, post.cta_deadline))
            at = self.remind_at(post)
            if post.state != PostState.PUBLISHED or at is None or post.cta_deadline <= now:
                continue
            if ReminderKind.ROUND not in kinds:
                found.append(FollowUp("remind", post.id, at))
                continue
            pending = [r.due_at for r in records[post.id] if r.state == ReminderState.PENDING]
            if pending:
                found.append(FollowUp("remind", post.id, min(pending)))
        return found

    # -- the reminder round ---------------------------------------------------------------------

    async def remind(self, post_id: int) -> datetime | None:
        """Plan the round on its first run, then send every reminder due now. Returns when the next
        one (someone's quiet hours ending) is due, or None."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await session.get(Post, post_id)
            if post is None or post.state != PostState.PUBLISHED or post.cta_deadline is None:
                return None
            at = self.remind_at(post)
            if at is None or now < at:
                return at
            if post.cta_deadline <= now:
                return None
            await self._plan(session, post, now)
        to_send = await self._claim_due(post_id, now)
        for reminder_id, employee_id, text in to_send:
            await self._send(reminder_id, post_id, employee_id, text)
        async with self._store.sessions() as session:
            return await scheduling.next_pending(session, post_id)

    async def _plan(self, session: AsyncSession, post: Post, now: datetime) -> None:
        """The reminder records of the round: one per person reached who has not acknowledged."""
        taken = await scheduling.add_reminders(
            session,
            [self._record(ReminderKind.ROUND, post.id, None, ReminderState.SENT, now, now)],
        )
        if not taken:
            return  # planned before (a restart, or a quiet-hours follow-up)
        assert post.cta_deadline is not None
        people = {
            person.employee_id for person in await audience.missing(session, post.id, ResponseKind.ACK, pending_at=now)
        }
        rows = []
        for employee in (await scheduling.employees(session, people)).values():
            state, due = ReminderState.PENDING, now
            if employee.optout_reminders or employee.optout_all:
                state = ReminderState.OPTED_OUT
            else:
                due = self._after_quiet(employee, now)
                if due >= post.cta_deadline:
                    state = ReminderState.LATE
            rows.append(self._record(ReminderKind.REMINDER, post.id, employee.id, state, due, now))
        await scheduling.add_reminders(session, rows)

    async def _claim_due(self, post_id: int, now: datetime) -> list[tuple[int, int, str]]:
        """Re-check each due reminder (acknowledged meanwhile? opted out? quiet hours changed?) and claim
        the ones to send, committed before anything is sent."""
        claimed: list[tuple[int, int, str]] = []
        async with self._store.transaction() as session:
            post = await session.get(Post, post_id)
            assert post is not None and post.cta_deadline is not None
            due = await scheduling.due_reminders(session, post_id, now)
            acked = await scheduling.acknowledged(session, post_id)
            people = await scheduling.employees(session, {r.employee_id for r in due if r.employee_id is not None})
            for reminder in due:
                employee = people.get(reminder.employee_id or 0)
                if employee is None:
                    continue
                if employee.id in acked:
                    await scheduling.set_reminder_state(session, reminder.id, ReminderState.ACKED)
                elif employee.optout_reminders or employee.optout_all:
                    await scheduling.set_reminder_state(session, reminder.id, ReminderState.OPTED_OUT)
                elif (later := self._after_quiet(employee, now)) > now:
                    reminder.due_at = later
                    if later >= post.cta_deadline:
                        await scheduling.set_reminder_state(session, reminder.id, ReminderState.LATE)
                elif await scheduling.claim_reminder(session, reminder.id, now):
                    claimed.append((reminder.id, employee.id, self._text(post, self._translator(employee))))
        return claimed

    async def _send(self, reminder_id: int, post_id: int, employee_id: int, text: str) -> None:
        async with self._store.sessions() as session:
            reached_by = await audience.reached_identities(
                session, post_id, [employee_id], pending_at=self._clock.now()
            )
            through = {r.identity_id for r in reached_by}
            identities = [
                i
                for i in (await scheduling.identities_of(session, [employee_id])).get(employee_id, [])
                if i.id in through
            ]
        reached = []
        for identity in identities:
            adapter = self._adapters.get(identity.platform)
            if adapter is None:
                continue
            user = UserRef(identity.platform, identity.platform_user_id, identity.display_name)
            try:
                if await self._send_private(adapter, user, text):
                    reached.append(identity.platform)
            except DeliveryError as exc:
                log.warning("reminder to %s failed: %s", user.key, exc)
        async with self._store.transaction() as session:
            if reached:
                await scheduling.set_reminder_state(session, reminder_id, ReminderState.SENT, ", ".join(reached))
            else:
                await scheduling.set_reminder_state(
                    session, reminder_id, ReminderState.UNREACHABLE, "no private chat on any of their platforms"
                )

    def _after_quiet(self, employee: Employee, now: datetime) -> datetime:
        quiet = QuietHours.parse(employee.quiet_start, employee.quiet_end, self._zone)
        return quiet.end_after(now) if quiet is not None else now

    def _translator(self, employee: Employee | None) -> Translator:
        """A reminder goes out without an event, so in the directory's language (else the default); the
        text the moderators' summary returns (``employee`` None) in the default language."""
        if self._languages is None:
            return SOURCE
        return self._languages.choose(employee.language) if employee is not None else self._languages.default

    def _text(self, post: Post, t: Translator) -> str:
        assert post.cta_deadline is not None
        return t.gettext(
            "Reminder: #%(id)s “%(title)s” is a must-read, due %(deadline)s. Answer `ack %(id)s` (or press ✅ Read "
            "under the post). `optout reminders` stops these reminders.",
            id=post.id,
            title=post.title,
            deadline=t.moment(post.cta_deadline, self._zone),
        )

    @staticmethod
    def _record(
        kind: ReminderKind, post_id: int, employee_id: int | None, state: ReminderState, due: datetime, now: datetime
    ) -> dict[str, object]:
        return {
            "key": scheduling.reminder_key(kind, post_id, employee_id),
            "kind": kind.value,
            "post_id": post_id,
            "employee_id": employee_id,
            "state": state.value,
            "due_at": due,
            "sent_at": now if kind != ReminderKind.REMINDER else None,
            "detail": None,
            "created_at": now,
        }

    # -- the deadline --------------------------------------------------------------------------

    async def summarize(self, post_id: int) -> str | None:
        """Tell the moderators how many of the people reached acknowledged; once per post."""
        now = self._clock.now()
        async with self._store.transaction() as session:
            post = await session.get(Post, post_id)
            if post is None or post.cta_deadline is None or post.state not in (PostState.PUBLISHED, PostState.EXPIRED):
                return None
            taken = await scheduling.add_reminders(
                session, [self._record(ReminderKind.SUMMARY, post_id, None, ReminderState.SENT, now, now)]
            )
            if not taken:
                return None
            reach = (await audience.reach_of(session, [post_id]))[post_id]
            acked = len(await scheduling.acknowledged(session, post_id))
            # Worded for each moderator in their language by the notifier; returned in the default one.
            note = Message(
                "#%(id)s “%(title)s”: %(acked)s of %(reach)s acknowledged by the deadline (%(deadline)s)",
                id=post.id,
                title=post.title,
                acked=acked,
                reach=reach_words(reach),
                deadline=Moment(post.cta_deadline, self._zone),
            )
        await self._tell(note)
        return self._translator(None).render(note)
