"""`prikbord channels discover` as an operator runs it: a config file, the real SDKs against the loopback
Telegram and Slack peers and a real Synapse; the printed TOML must parse and carry the right chat ids.

The command runs as a subprocess (the real console script) while the peers serve in the test's loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

from nio import RoomPreset

from bot.config import Settings
from tests.adapters.harnesses.matrix import Person
from tests.matrix_server import SynapseServer
from tests.peers.slack import SlackPeer
from tests.peers.telegram import TelegramPeer

KANTOOR, LAGER, WEG, OUD, NIEUW = -1001000000001, -1001000000002, -1001000000003, -4000000004, -1001000000005
ANNA = 1101


async def prikbord(args: list[str], cwd: Path, config: str) -> tuple[int, str, str]:
    (cwd / "prikbord.toml").write_text(config)
    exe = shutil.which("prikbord", path=str(Path(sys.executable).parent)) or "prikbord"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIKBORD_")}
    process = await asyncio.create_subprocess_exec(
        exe,
        *args,
        "--config",
        str(cwd / "prikbord.toml"),
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def pasted(toml: str, *, base: str = "") -> list[dict[str, Any]]:
    """The ``[[channels]]`` a person gets by pasting the output into their config (which must stay valid)."""
    config = tomllib.loads(base + "\n" + toml)
    Settings.model_validate(config)
    return list(config.get("channels", []))


# ---------------------------------------------------------------------------------------------
# Telegram


def telegram_config(peer: TelegramPeer, extra: str = "") -> str:
    return f'[telegram]\ntoken = "{peer.token}"\napi_base_url = "{peer.api_base_url}"\n{extra}'


async def telegram_world(peer: TelegramPeer) -> None:
    peer.add_user(ANNA, "Anna")
    for chat_id, title in ((KANTOOR, "Kantoor Utrecht"), (LAGER, "Lager"), (WEG, "Weg"), (OUD, "Oude groep")):
        peer.add_chat(chat_id, "group" if chat_id == OUD else "supergroup", title)
    await peer.bot_membership(KANTOOR, "administrator", ANNA)  # added as admin
    await peer.bot_membership(LAGER, "member", ANNA)  # added, no admin rights
    await peer.user_sends(ANNA, LAGER, "/help@prikbord_bot")
    await peer.bot_membership(WEG, "member", ANNA)
    await peer.bot_membership(WEG, "kicked", ANNA)  # removed again: not listed
    await peer.bot_membership(OUD, "member", ANNA)
    await peer.migrate_chat(OUD, NIEUW, ANNA)  # a basic group became a supergroup: the new id counts
    peer.add_chat(ANNA, "private", "Anna")
    await peer.user_sends(ANNA, ANNA, "/start")  # a private chat is a person (a moderator?), not a channel


async def test_telegram_discover_prints_channels_without_consuming_updates(tmp_path: Path) -> None:
    async with TelegramPeer() as peer:
        await telegram_world(peer)
        pending = len(peer._updates)
        existing = '[[channels]]\nname = "lager"\nplatform = "telegram"\nchat_id = "-1001000000002"\n'
        code, out, err = await prikbord(["channels", "discover"], tmp_path, telegram_config(peer, existing))
        assert code == 0, err
        channels = pasted(out, base=telegram_config(peer, existing))
        assert {c["chat_id"]: c["name"] for c in channels} == {
            "-1001000000002": "lager",  # the configured one, as it was: the paste adds no second entry
            str(KANTOOR): "kantoor-utrecht",
            str(NIEUW): "oude-groep",
        }
        assert "already configured as channel 'lager'" in out
        assert "# supergroup 'Kantoor Utrecht' — the bot is an admin: reactions arrive" in out
        assert str(WEG) not in out
        # A person who wrote to the bot is no channel, but the line a moderator entry needs.
        assert "# person 'Anna' wrote to the bot: moderators entry \"telegram:1101\"" in out
        # Nothing was confirmed: the service started after this still gets every update.
        calls = peer.calls_to("getUpdates")
        assert calls and all("offset" not in c.params for c in calls)
        assert len(peer._updates) == pending
        assert not peer.unknown_params

        code, out, err = await prikbord(["channels", "discover", "--json"], tmp_path, telegram_config(peer))
        assert code == 0, err
        [result] = json.loads(out)
        chats = {c["chat_id"]: c for c in result["chats"]}
        assert set(chats) == {str(KANTOOR), str(LAGER), str(NIEUW), str(ANNA)}
        assert chats[str(ANNA)]["kind"] == "private" and chats[str(ANNA)]["title"] == "Anna"
        assert chats[str(KANTOOR)]["title"] == "Kantoor Utrecht" and chats[str(KANTOOR)]["kind"] == "supergroup"
        assert "admin: reactions arrive" in chats[str(KANTOOR)]["note"]
        assert "not an admin" in chats[str(LAGER)]["note"]
        assert chats[str(LAGER)]["encrypted"] is None


async def test_telegram_discover_refuses_while_a_webhook_is_set(tmp_path: Path) -> None:
    async with TelegramPeer() as peer:
        await telegram_world(peer)
        await peer.call("setWebhook", {"url": "https://prikbord.example/telegram/webhook"})
        code, out, err = await prikbord(["channels", "discover"], tmp_path, telegram_config(peer))
        assert code == 1
        assert "a webhook is set" in err and "polling" in err and "Traceback" not in err
        assert peer.token not in err + out
        assert not peer.calls_to("getUpdates")  # never asked: it would have been a Conflict anyway
        assert pasted(out) == []


async def test_a_refused_token_is_reported_without_the_token(tmp_path: Path) -> None:
    async with TelegramPeer() as peer:
        config = f'[telegram]\ntoken = "999:wrong-token_0123456789"\napi_base_url = "{peer.api_base_url}"\n'
        code, out, err = await prikbord(["channels", "discover"], tmp_path, config)
        assert code == 1 and "telegram" in err and "wrong-token" not in err + out


# ---------------------------------------------------------------------------------------------
# Slack


async def test_slack_discover_lists_member_channels_over_every_page(tmp_path: Path) -> None:
    async with SlackPeer() as peer:
        member = [peer.add_channel(f"team-{n:03d}") for n in range(205)]  # more than one page of 200
        private = peer.add_channel("hr-vertrouwelijk", private=True)
        outside = peer.add_channel("random", bot_member=False)
        hidden = peer.add_channel("geheim", private=True, bot_member=False)
        archived = peer.add_channel("oud-project", archived=True)
        config = f'[slack]\nbot_token = "{peer.bot_token}"\nsigning_secret = "{peer.signing_secret}"\n'
        config += f'api_base_url = "{peer.api_base_url}"\n'
        code, out, err = await prikbord(["channels", "discover"], tmp_path, config)
        assert code == 0, err
        channels = pasted(out, base=config)
        ids = {c["chat_id"] for c in channels}
        assert ids == {*member, private}
        assert not ids & {outside, hidden, archived}
        by_id = {c["chat_id"]: c for c in channels}
        assert by_id[private]["name"] == "hr-vertrouwelijk" and by_id[private]["platform"] == "slack"
        lists = peer.calls_of("conversations.list")
        assert len(lists) == 2 and lists[1].args.get("cursor")  # the second page was asked for
        assert {a for c in lists for a in c.args["types"].split(",")} == {"public_channel", "private_channel"}
        assert not peer.violations

        code, out, _ = await prikbord(["channels", "discover", "--json"], tmp_path, config)
        [result] = json.loads(out)
        assert {c["chat_id"]: c["kind"] for c in result["chats"]}[private] == "private_channel"


async def test_slack_missing_scope_says_which_to_add(tmp_path: Path) -> None:
    async with SlackPeer() as peer:
        peer.add_channel("algemeen")
        peer.fail_next("conversations.list", "missing_scope")
        config = f'[slack]\nbot_token = "{peer.bot_token}"\nsigning_secret = "{peer.signing_secret}"\n'
        config += f'api_base_url = "{peer.api_base_url}"\n'
        code, out, err = await prikbord(["channels", "discover"], tmp_path, config)
        assert code == 1 and "scope" in err and "reinstall" in err
        assert peer.bot_token not in err + out and "# not discovered" in out


# ---------------------------------------------------------------------------------------------
# Matrix


async def test_matrix_discover_lists_joined_rooms_with_names_and_encryption(
    tmp_path: Path, synapse: SynapseServer
) -> None:
    bot = synapse.login("discoverbot", fresh=True)
    owner = await Person.create(synapse, "discoverowner")
    bot_client = await Person.create(synapse, "discoverbot")
    try:
        named = await owner.client.room_create(preset=RoomPreset.public_chat, name="Kantoor", invite=[bot.user_id])
        encrypted = await owner.client.room_create(
            preset=RoomPreset.private_chat,
            name="Bestuur",
            invite=[bot.user_id],
            initial_state=[
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
            ],
        )
        unnamed = await owner.client.room_create(preset=RoomPreset.public_chat, invite=[bot.user_id])
        invited_only = await owner.client.room_create(preset=RoomPreset.public_chat, name="Later", invite=[bot.user_id])
        for resp in (named, encrypted, unnamed):
            await bot_client.join(resp.room_id)
        config = (
            f'[matrix]\nhomeserver = "{synapse.base_url}"\nuser_id = "{bot.user_id}"\n'
            f'access_token = "{bot.access_token}"\ndevice_id = "{bot.device_id}"\n'
            f'[database]\nurl = "sqlite:///{tmp_path}/prikbord.db"\n'
        )
        code, out, err = await prikbord(["channels", "discover"], tmp_path, config)
        assert code == 0, err
        channels = pasted(out, base=config)
        by_id = {c["chat_id"]: c for c in channels}
        # The encrypted room is shown, commented out: prikbord would refuse to post there.
        assert set(by_id) == {named.room_id, unnamed.room_id}
        assert f'# chat_id = "{encrypted.room_id}"' in out and "# room 'Bestuur', encrypted" in out
        assert invited_only.room_id not in out
        assert by_id[named.room_id]["name"] == "kantoor" and by_id[named.room_id]["platform"] == "matrix"
        assert bot.access_token not in out + err

        code, out, err = await prikbord(["channels", "discover", "--json"], tmp_path, config)
        assert code == 0, err
        [result] = json.loads(out)
        chats = {c["chat_id"]: c for c in result["chats"]}
        assert chats[encrypted.room_id]["encrypted"] is True and "cannot post" in chats[encrypted.room_id]["note"]
        assert chats[named.room_id]["encrypted"] is False and chats[named.room_id]["title"] == "Kantoor"
        assert chats[unnamed.room_id]["title"] == unnamed.room_id
    finally:
        await owner.close()
        await bot_client.close()


async def test_discover_without_a_messenger_says_what_to_configure(tmp_path: Path) -> None:
    code, out, err = await prikbord(["channels", "discover"], tmp_path, "[console]\nenabled = true\n")
    assert code == 2 and "[telegram] token" in err and out == ""


async def test_telegram_discover_lists_a_forums_topics_as_entries_with_thread_id(tmp_path: Path) -> None:
    """Forum topics (#15): each topic seen in the pending updates is an entry with its thread_id, named after
    the topic (every message in a topic answers the topic's forum_topic_created message, which names it)."""
    forum = -1001000000009
    async with TelegramPeer() as peer:
        peer.add_user(ANNA, "Anna")
        peer.add_chat(forum, "supergroup", "Winkel")
        sales, support = peer.add_topic(forum, "Sales", by_user=ANNA), peer.add_topic(forum, "Support", by_user=ANNA)
        await peer.bot_membership(forum, "administrator", ANNA)
        await peer.user_sends(ANNA, forum, "/help@prikbord_bot", thread_id=sales)
        await peer.user_sends(ANNA, forum, "/help@prikbord_bot", thread_id=support)
        existing = (
            f'[[channels]]\nname = "support"\nplatform = "telegram"\nchat_id = "{forum}"\nthread_id = {support}\n'
        )
        code, out, err = await prikbord(["channels", "discover"], tmp_path, telegram_config(peer, existing))
        assert code == 0, err
        channels = pasted(out, base=telegram_config(peer, existing))
        assert [(c["name"], c["chat_id"], c.get("thread_id")) for c in channels] == [
            ("support", str(forum), support),  # configured already: the paste adds no second entry
            ("winkel", str(forum), None),  # the forum as a whole
            ("winkel-sales", str(forum), sales),
        ]
        assert f"already configured as channel 'support': topic 'Winkel / Support' chat_id {forum}/{support}" in out

        code, out, err = await prikbord(["channels", "discover", "--json"], tmp_path, telegram_config(peer))
        assert code == 0, err
        [result] = json.loads(out)
        topics = [(c["chat_id"], c["thread_id"], c["title"], c["kind"]) for c in result["chats"] if c["thread_id"]]
        assert topics == [
            (str(forum), sales, "Winkel / Sales", "topic"),
            (str(forum), support, "Winkel / Support", "topic"),
        ]
