"""Config of Telegram forum topics (#15): ``thread_id`` names a topic of a forum supergroup. Two topics of
one forum are two channels; ``thread_id`` anywhere but on Telegram is refused, naming the key; and an event
from a topic no channel names counts for the forum's own channel (``content.chats.chat_ids_to_match``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from content.chats import chat_ids_to_match, whole_chat_id

TELEGRAM = '[telegram]\ntoken = "t"\n'


def channel(name: str, platform: str, chat_id: str, thread_id: int | None = None) -> str:
    topic = f"thread_id = {thread_id}\n" if thread_id is not None else ""
    return f'[[channels]]\nname = "{name}"\nplatform = "{platform}"\nchat_id = "{chat_id}"\n{topic}'


def load(tmp_path: Path, content: str) -> list[tuple[str, str]]:
    config = tmp_path / "prikbord.toml"
    config.write_text(content)
    return [(c.name, c.chat_address) for c in load_settings(config).channels]


def test_one_chat_with_two_thread_ids_is_two_channels(tmp_path: Path) -> None:
    content = TELEGRAM + channel("sales", "telegram", "-1001", 45) + channel("support", "telegram", "-1001", 46)
    content += channel("forum", "telegram", "-1001")  # the forum as a whole (its General topic) too
    assert load(tmp_path, content) == [("sales", "-1001/45"), ("support", "-1001/46"), ("forum", "-1001")]


def test_the_same_topic_twice_is_refused(tmp_path: Path) -> None:
    content = TELEGRAM + channel("sales", "telegram", "-1001", 45) + channel("verkoop", "telegram", "-1001", 45)
    with pytest.raises(ConfigError, match=r"both have platform = 'telegram', chat_id = '-1001', thread_id = 45"):
        load(tmp_path, content)


@pytest.mark.parametrize(("platform", "chat_id"), [("slack", "C01"), ("matrix", "!room:example.org"), ("console", "c")])
def test_thread_id_on_another_platform_is_refused_naming_the_key(tmp_path: Path, platform: str, chat_id: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, channel("elsewhere", platform, chat_id, 45))
    assert "channels.0.thread_id" in str(caught.value)
    assert f"thread_id is a Telegram forum's topic; {platform} channels have none: remove it" in str(caught.value)


def test_thread_id_must_be_a_topic_number(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"channels\.0\.thread_id"):
        load(tmp_path, TELEGRAM + channel("sales", "telegram", "-1001", 0))


def test_an_event_from_a_topic_matches_its_channel_then_the_forums_own() -> None:
    assert chat_ids_to_match("-1001/45") == ("-1001/45", "-1001")
    assert chat_ids_to_match("-1001") == ("-1001",)
    assert chat_ids_to_match("C01") == ("C01",)
    assert whole_chat_id("-1001/45") == "-1001" and whole_chat_id("!room:example.org") == "!room:example.org"
    assert chat_ids_to_match("@forum/7") == ("@forum/7", "@forum")
    # Only a Telegram group with a numeric topic is split: a Matrix user id may hold a "/" of its own.
    assert whole_chat_id("@a/b:example.org") == "@a/b:example.org"
    assert whole_chat_id("!ab/12:example.org") == "!ab/12:example.org"
    assert whole_chat_id("-1001/x") == "-1001/x"


def test_a_chat_id_that_names_a_topic_beside_thread_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"channels\.0\.thread_id: Value error, chat_id names a topic already"):
        load(tmp_path, TELEGRAM + channel("sales", "telegram", "-1001/45", 46))
