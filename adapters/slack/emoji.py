"""Slack reaction names ⇄ the Unicode emoji the core compares, pure.

Slack reports reactions by short name (``+1``, ``white_check_mark``, ``+1::skin-tone-3``); the core
thinks in the emoji people see. Names not in the table come through as ``:name:``.
"""

from __future__ import annotations

_BY_NAME: dict[str, str] = {
    "+1": "👍",
    "thumbsup": "👍",
    "-1": "👎",
    "thumbsdown": "👎",
    "white_check_mark": "✅",
    "heavy_check_mark": "✔️",
    "ballot_box_with_check": "☑️",
    "x": "❌",
    "heart": "❤️",
    "tada": "🎉",
    "eyes": "👀",
    "clap": "👏",
    "raised_hands": "🙌",
    "pray": "🙏",
    "fire": "🔥",
    "joy": "😂",
    "smile": "😄",
    "slightly_smiling_face": "🙂",
    "question": "❓",
    "grey_question": "❔",
    "rocket": "🚀",
    "100": "💯",
    "zero": "0️⃣",
    "one": "1️⃣",
    "two": "2️⃣",
    "three": "3️⃣",
    "four": "4️⃣",
    "five": "5️⃣",
    "six": "6️⃣",
    "seven": "7️⃣",
    "eight": "8️⃣",
    "nine": "9️⃣",
    "keycap_ten": "🔟",
}

# One canonical name per emoji for the way back (the first name listed wins).
_BY_EMOJI: dict[str, str] = {}
for _name, _emoji in _BY_NAME.items():
    _BY_EMOJI.setdefault(_emoji, _name)


def emoji_for(name: str) -> str:
    """``thumbsup`` → 👍; skin tones are dropped so every 👍 counts alike; unknown → ``:name:``."""
    base = name.split("::", 1)[0].strip(":")
    return _BY_NAME.get(base, f":{base}:")


def name_for(emoji: str) -> str | None:
    """👍 → ``+1`` (for adding a reaction); None when Slack's name is not known here."""
    if emoji.startswith(":") and emoji.endswith(":") and len(emoji) > 2:
        return emoji[1:-1]
    return _BY_EMOJI.get(emoji)
