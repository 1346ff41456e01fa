"""``prikbord post --image/--file`` as an operator runs it: a good image and file are stored and shown
by the console; bad input (empty, not what its extension says, a damaged image, too big or a type a
platform refuses, a platform that sends no attachments yet) is a clear error naming the option, the
file, and the platform with its limit, and nothing is stored, so nothing is sent anywhere."""

from __future__ import annotations

import io
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from tests.bot.test_cli import prikbord


def png(path: Path, size: tuple[int, int] = (64, 48), noise: bool = False) -> Path:
    image = Image.new("RGB", size, "red")
    if noise:  # incompressible: a PNG about as big as its pixels
        image = Image.frombytes("RGB", size, random.Random(15).randbytes(size[0] * size[1] * 3))
    image.save(path, "PNG")
    return path


def stored_rows(cwd: Path) -> tuple[int, int]:
    """(posts, attachment files) in ./prikbord.db."""
    db = sqlite3.connect(cwd / "prikbord.db")
    try:
        return db.execute("select count(*) from posts").fetchone()[0], db.execute(
            "select count(*) from attachment_files"
        ).fetchone()[0]
    finally:
        db.close()


def test_an_image_and_a_file_are_stored_and_the_console_shows_them(tmp_path: Path) -> None:
    png(tmp_path / "team.png")
    (tmp_path / "plan.pdf").write_bytes(b"%PDF-1.4\n% plan\n")
    created = prikbord(
        ["post", "--title", "Heidag", "--cta", "like", "--image", "team.png", "--file", "plan.pdf", "--json"], tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert stored_rows(tmp_path) == (1, 2)
    run = prikbord(["run"], tmp_path, "")
    assert run.returncode == 0, run.stderr
    assert "🖼 team.png (64×48," in run.stdout and "📎 plan.pdf (16 B)" in run.stdout
    again = prikbord(["post", "--title", "Nog eens", "--cta", "like", "--image", "team.png"], tmp_path)
    assert again.returncode == 0 and stored_rows(tmp_path) == (2, 2)  # the same bytes are stored once


def _truncated_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), "blue").save(out, "PNG")
    return out.getvalue()[:-60]  # the last chunks cut off, as by a broken download


BAD_INPUT = [  # (file name, its bytes or None for no such file, option, what the error says)
    ("leeg.png", b"", "--image", "leeg.png is empty (0 bytes)"),
    ("foto.png", b"%PDF-1.4\n", "--image", "foto.png is not what its extension says: it holds PDF document"),
    ("kapot.png", _truncated_png(), "--image", "kapot.png is a damaged image"),
    ("plan.pdf", b"%PDF-1.4\n", "--image", "plan.pdf is not an image (it holds PDF document): give it with --file"),
    ("rapport.pdf", b"PK\x03\x04zip", "--file", "rapport.pdf is not what its extension says"),
    ("leeg.txt", b"", "--file", "leeg.txt is empty (0 bytes)"),
    ("weg.png", None, "--image", "weg.png: does not exist"),
]


@pytest.mark.parametrize(("name", "data", "option", "message"), BAD_INPUT)
def test_bad_input_is_a_clear_error_and_nothing_is_stored(
    tmp_path: Path, name: str, data: bytes | None, option: str, message: str
) -> None:
    if data is not None:
        (tmp_path / name).write_bytes(data)
    result = prikbord(["post", "--title", "Foto", "--cta", "like", option, name], tmp_path)
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().startswith(f"error: {option} {name}") and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    if (tmp_path / "prikbord.db").exists():
        assert stored_rows(tmp_path) == (0, 0)


def _telegram_config(tmp_path: Path) -> Path:
    config = tmp_path / "prikbord.toml"
    config.write_text(
        '[telegram]\ntoken = "123456789:AAH-prikbord-loopback-token_0123456789"\n'
        'api_base_url = "http://127.0.0.1:9"\n\n'
        '[[channels]]\nname = "kantoor"\nplatform = "telegram"\nchat_id = "-1001000000001"\ntags = ["everyone"]\n'
    )
    return config


def test_an_image_too_big_for_telegram_is_refused_naming_the_platform_and_its_limit(tmp_path: Path) -> None:
    config = _telegram_config(tmp_path)
    big = png(tmp_path / "groot.png", (2000, 1900), noise=True)
    assert os.path.getsize(big) > 10 * 1024 * 1024
    result = prikbord(
        ["post", "--config", str(config), "--title", "Groot", "--cta", "like", "--image", big.name], tmp_path
    )
    assert result.returncode == 1
    assert "telegram takes images of at most 10 MB" in result.stderr and "groot.png is 1" in result.stderr
    assert stored_rows(tmp_path) == (0, 0)


def test_a_gif_as_image_is_refused_for_telegram_with_what_to_do(tmp_path: Path) -> None:
    config = _telegram_config(tmp_path)
    Image.new("RGB", (20, 20), "green").save(tmp_path / "anim.gif", "GIF")
    result = prikbord(
        ["post", "--config", str(config), "--title", "Gif", "--cta", "like", "--image", "anim.gif"], tmp_path
    )
    assert result.returncode == 1
    assert "telegram shows only these as images: JPEG image, PNG image, WebP image" in result.stderr
    assert "Give it with --file" in result.stderr
    ok = prikbord(["post", "--config", str(config), "--title", "Gif", "--cta", "like", "--file", "anim.gif"], tmp_path)
    assert ok.returncode == 0, ok.stderr


def test_eleven_images_are_more_than_one_telegram_album(tmp_path: Path) -> None:
    config = _telegram_config(tmp_path)
    args = ["post", "--config", str(config), "--title", "Album", "--cta", "like"]
    for i in range(11):
        png(tmp_path / f"f{i}.png", (10 + i, 10))
        args += ["--image", f"f{i}.png"]
    result = prikbord(args, tmp_path)
    assert result.returncode == 1 and "telegram takes at most 10 images in one album, not 11" in result.stderr
    assert stored_rows(tmp_path) == (0, 0)


def test_a_platform_that_sends_no_attachments_yet_refuses_the_post_before_anything_is_sent(tmp_path: Path) -> None:
    """Slack and Matrix send no attachments yet: a post with one that goes there is refused whole, so the
    Telegram and console channels of the same audience get nothing either."""
    config = _telegram_config(tmp_path)
    config.write_text(
        config.read_text()
        + '\n[slack]\nbot_token = "xoxb-1-prikbord"\nsigning_secret = "prikbord-secret"\n'
        + 'api_base_url = "http://127.0.0.1:9/api/"\n\n'
        + '[[channels]]\nname = "algemeen"\nplatform = "slack"\nchat_id = "C0PRIKBORD"\ntags = ["everyone"]\n'
    )
    png(tmp_path / "team.png")
    result = prikbord(
        ["post", "--config", str(config), "--title", "Team", "--cta", "like", "--image", "team.png"], tmp_path
    )
    assert result.returncode == 1, result.stdout
    assert "slack cannot carry images or files yet, and the post goes to algemeen there" in result.stderr
    assert "leave out --image and --file" in result.stderr
    assert stored_rows(tmp_path) == (0, 0)
    text_only = prikbord(["post", "--config", str(config), "--title", "Team", "--cta", "like", "--json"], tmp_path)
    assert text_only.returncode == 0, text_only.stderr
    assert json.loads(text_only.stdout)["state"] == "published"
