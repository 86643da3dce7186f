"""Expressive markup for Supertonic 3, which reads ten tags inside the text:
``<laugh> <breath> <surprise> <sigh> <scream> <throatclear> <sad> <angry>
<cough> <yawn>``. Supertonic 2 reads none of them and would speak them.

The plugin accepts the markup livekit-agents teaches an LLM and what other
plugins' dialects lower it to, and rewrites it for the session's model:

* ``<expr type="sound" label="laugh"/>`` (livekit-agents' expressive markup),
  ``<sound value="laugh"/>``: a sound label (``laugh``, ``chuckle``,
  ``breathe``, ``inhale``, ``sigh``, ``clear throat``, ``cough``, ``yawn``,
  ``scream``, ``gasp``, ``sob``, ...) becomes its tag;
* ``<expr type="expression" label="a little sad"/>``, ``<expression
  value="..."/>``, ``<emotion value="..."/>``: a delivery whose words name
  sadness, anger or surprise becomes ``<sad>``, ``<angry>`` or ``<surprise>``;
* the ten tags themselves, written directly (``<laugh>``, ``<laugh/>``).

For a model that reads the tags, what maps becomes ``<tag>``; everything else
(an unknown label, a pause ``<expr type="break" .../>``, prosody and spell
wrappers, whose words stay) is dropped, never spoken. For any other model all
of it is dropped.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

EXPRESSION_TAGS = ("laugh", "breath", "surprise", "sigh", "scream", "throatclear", "sad", "angry", "cough",
                   "yawn")
# Models known to read the tags when the server does not list them itself
# (session_started's "expression_tags").
EXPRESSIVE_MODELS = {"supertonic-3": frozenset(EXPRESSION_TAGS)}

# A sound label as livekit-agents' providers name them -> the tag.
_SOUND_LABELS: dict[str, str] = {}
for _tag, _labels in {
    "laugh": "laugh laughs laughing laughter chuckle chuckles chuckling giggle giggles giggling",
    "breath": "breath breaths breathe breathing inhale inhales inhaling exhale exhales exhaling",
    "sigh": "sigh sighs sighing",
    "scream": "scream screams screaming shriek shrieks shrieking",
    "throatclear": "throatclear throat-clear clear-throat clears-throat clearing-throat throat-clearing ahem",
    "cough": "cough coughs coughing",
    "yawn": "yawn yawns yawning",
    "surprise": "surprise surprised gasp gasps gasping",
    "sad": "sad cry cries crying sob sobs sobbing",
    "angry": "angry anger",
}.items():
    for _label in _labels.split():
        _SOUND_LABELS[_label] = _tag

# Words of a free-form delivery description -> the emotion tag.
_EMOTION_WORDS: dict[str, str] = {}
for _tag, _words in {
    "sad": "sad sadly sadness sorrowful melancholic melancholy dejected mournful tearful heartbroken grieving",
    "angry": "angry angrily anger furious irate outraged enraged frustrated",
    "surprise": "surprise surprised amazed astonished shocked startled",
}.items():
    for _word in _words.split():
        _EMOTION_WORDS[_word] = _tag

# Any markup shape the plugin knows; `pre` is the blank before it, so that
# dropping a marker between two words leaves one space.
_MARKUP_RE = re.compile(
    r"(?P<pre>[ \t]*)(?:"
    r"<(?P<close>/)?\s*(?P<name>expr|sound|expression|emotion|break)\b(?P<attrs>[^<>]*)>"
    r"|<\s*/?\s*(?P<native>" + "|".join(EXPRESSION_TAGS) + r")\s*/?\s*>"
    r")",
    re.IGNORECASE,
)
_ATTR_RE = re.compile(r"""([\w-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_WORD_RE = re.compile(r"[a-z]+")
# A held '<' that has not closed after this many characters is text.
_MAX_HELD_CHARS = 256


def tags_for(model: str | None, listed: Iterable[str] | None = None) -> frozenset[str]:
    """The tags a session's model reads: the server's own list when it sends
    one, else what is known of the model by name (none for an unknown one)."""
    if listed is not None:  # the server writes them as in the text: "<laugh>"
        return frozenset(str(t).strip().strip("<>").lower() for t in listed) & frozenset(EXPRESSION_TAGS)
    return EXPRESSIVE_MODELS.get((model or "").lower(), frozenset())


def tags_of_session(raw: dict[str, Any], fallback: frozenset[str] | None) -> frozenset[str] | None:
    """The tags of the model a ``session_started`` message names; ``fallback``
    when it names none (a server from before several models)."""
    listed = raw.get("expression_tags")
    if isinstance(listed, list):
        return tags_for(None, listed)
    model = raw.get("model")
    if isinstance(model, str) and model:
        return tags_for(model)
    return fallback


def _label(value: str) -> str:
    return "-".join(_WORD_RE.findall(value.lower()))


def sound_tag(label: str) -> str | None:
    """``"clear throat"`` -> ``"throatclear"``; None for a label no tag renders."""
    key = _label(label)
    return _SOUND_LABELS.get(key) or _SOUND_LABELS.get(key.replace("-", ""))


def emotion_tag(description: str) -> str | None:
    """The emotion tag a delivery description names first (``"a little sad"`` -> ``"sad"``)."""
    for word in _WORD_RE.findall(description.lower()):
        if word in _EMOTION_WORDS:
            return _EMOTION_WORDS[word]
    return None


def _attrs(text: str) -> dict[str, str]:
    return {k.lower(): (a if a else b) for k, a, b in _ATTR_RE.findall(text)}


def _tag_of(m: re.Match[str]) -> str | None:
    if m["native"]:
        closing = "/" in m.group(0)[:m.start("native") - m.start()]
        return None if closing else m["native"].lower()  # the tags are not paired: a closing one says nothing
    if m["close"]:
        return None
    name = m["name"].lower()
    attrs = _attrs(m["attrs"])
    if name == "expr":
        kind = attrs.get("type", "").lower()
        if kind == "sound":
            return sound_tag(attrs.get("label", ""))
        if kind in ("expression", "emotion"):
            return emotion_tag(attrs.get("label", ""))
        return None  # break, prosody and spell delimiters, unknown types
    if name == "sound":
        return sound_tag(attrs.get("value", ""))
    if name in ("expression", "emotion"):
        return emotion_tag(attrs.get("value", ""))
    return None


def has_markup(text: str) -> bool:
    return "<" in text and _MARKUP_RE.search(text) is not None


def lower_markup(text: str, tags: frozenset[str] | None) -> str:
    """The text for a model that reads `tags` (None or empty: none)."""
    if "<" not in text:
        return text
    readable = tags or frozenset()

    def replace(m: re.Match[str]) -> str:
        tag = _tag_of(m)
        if tag is not None and tag in readable:
            return f"{m['pre']}<{tag}>"
        following = m.string[m.end():m.end() + 1]
        # The blank before a dropped marker goes when a blank or punctuation follows; at the end of a
        # streamed chunk it stays, since the next chunk may start with the next word.
        return "" if following and (following.isspace() or following in ".,;:!?…") else m["pre"]

    return _MARKUP_RE.sub(replace, text)


def strip_markup(text: str) -> str:
    """The words alone (transcripts)."""
    return lower_markup(text, None)


class MarkupStream:
    """Cuts streamed text where no tag is left open, so a marker split across
    LLM tokens is rewritten whole: ``push`` returns what is ready and holds
    back an unfinished ``<...``; ``flush`` returns what was held."""

    def __init__(self) -> None:
        self._held = ""

    def push(self, text: str) -> str:
        text = self._held + text
        cut = len(text)
        start = text.rfind("<")
        if start >= 0 and ">" not in text[start:] and len(text) - start <= _MAX_HELD_CHARS:
            following = text[start + 1:start + 2]
            if not following or following.isalpha() or following == "/":
                cut = start
        self._held = text[cut:]
        return text[:cut]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held


# NonverbalOptions fields of livekit-agents' speech steering -> the sound tags they govern.
_NONVERBAL_FIELDS = {
    "laughing": ("laugh",),
    "breathing": ("breath",),
    "sighing": ("sigh",),
    "crying": (),
    "vocalizing": ("scream",),
    "mouth_sounds": (),
    "reflex_sounds": ("cough", "yawn", "throatclear"),
}
_SOUNDS = ("laugh", "breath", "sigh", "cough", "throatclear", "yawn", "scream")
_EMOTIONS = {"surprise": "surprised", "sad": "sad", "angry": "angry"}


def nonverbals(tags: frozenset[str]) -> dict[str, list[str]]:
    """``MarkupInfo.nonverbals``: steering field -> the sound labels it governs."""
    out = {field: [t for t in governed if t in tags] for field, governed in _NONVERBAL_FIELDS.items()}
    return {field: labels for field, labels in out.items() if labels}


def allowed_sounds(tags: frozenset[str], steering: dict[str, Any] | None) -> list[str]:
    sounds = [s for s in _SOUNDS if s in tags]
    choice = (steering or {}).get("nonverbal_sounds")
    if choice is None or choice is True:
        return sounds
    if choice is False:
        return []
    off = {t for field, governed in _NONVERBAL_FIELDS.items() if not dict(choice).get(field, True)
           for t in governed}
    return [s for s in sounds if s not in off]


def llm_instructions(tags: frozenset[str], steering: dict[str, Any] | None = None) -> str | None:
    """What the LLM is told it may write (livekit-agents' ``<expr/>`` syntax), or
    None when the model reads no tags."""
    sounds = allowed_sounds(tags, steering)
    emotions = [label for tag, label in _EMOTIONS.items() if tag in tags]
    if not sounds and not emotions:
        return None
    parts = ["You can add vocal expressions with a self-closing <expr/> marker where they happen. Use them "
             "sparingly, only where a real speaker would, and never the same one twice in a row."]
    if sounds:
        parts.append(f'Sounds: <expr type="sound" label="{sounds[0]}"/>, the label one of: '
                     f'{", ".join(sounds)}.')
    if emotions:
        parts.append(f'Emotion, before the words it colors: <expr type="expression" label="{emotions[0]}"/>, '
                     f'the label one of: {", ".join(emotions)}.')
    parts.append("There are no pauses, prosody or other markers for this voice; write marker labels in "
                 "English whatever the language of the conversation.")
    example = []
    if "laugh" in sounds:
        example.append('That is the best news all week! <expr type="sound" label="laugh"/>')
    if "sigh" in sounds:
        example.append('<expr type="sound" label="sigh"/> Okay, let us try that once more.')
    if "sad" in tags:
        example.append('<expr type="expression" label="sad"/> I am sorry to hear that.')
    if example:
        parts.append("Examples:\n" + "\n".join(f"  {e}" for e in example))
    return "\n".join(parts)
