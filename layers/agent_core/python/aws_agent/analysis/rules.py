"""Deterministic, rule-based analysis of a GitHub issue into a task draft (no network, no LLM).

`analyze_issue` reads the issue's title, body and labels and returns an `Analysis`: the operation (task type),
the resource type, the parameters it could extract, and the account and region the issue names. What it cannot
decide it refuses with a `TaskAnalysisError` that says what is missing or ambiguous.

How it decides:

* The body is cleaned first: HTML comments dropped, code fences kept apart (only their `key: value` lines are
  read), unchecked checklist items dropped, links reduced to their text, URLs and inline code masked.
* Explicit `key: value` lines (also in fenced YAML, two-column tables and issue-form `### Heading` sections) win:
  `operation:`, `resource_type:`, `region:`, `account:`, `instance_type:`, `tags:` ...
* Otherwise the title decides, then the labels, then the body's prose. Within a sentence, phrases after a
  context word ("for", "behind", "with", "in", "to", Japanese の/用/に ...) are context: the object of the verb is
  the first resource phrase after the verb in its own clause ("Deploy Lambda function for API endpoint" is a
  LambdaFunction), or before it for verb-final languages ("Lambda関数をデプロイ").
* Two different operations (or resource types) that are equally strong in the deciding clause are an error.

Every pattern is compiled once at import, uses bounded repetition only, and runs on input that is truncated
first (title 512 characters, body 64 KiB, at most 32 KiB of prose scanned for words), so hostile input costs
linear time.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import Any

from ..errors import TaskAnalysisError
from ..events import IssueRef
from ..model import MAX_TAGS, AwsResourceType, AwsTaskType
from . import vocabulary as V

__all__ = ["SWEEP_TASK_TYPES", "Analysis", "analyze_issue"]

# --- budgets ----------------------------------------------------------------------------------------------------

MAX_TITLE_CHARS = 512
MAX_BODY_CHARS = 65_536
MAX_LABELS = 50
MAX_LABEL_CHARS = 100
MAX_LINE_CHARS = 2_000
MAX_LINES = 5_000
MAX_PROSE_CHARS = 32_768
MAX_SECTION_LINES = 40
MAX_ACCOUNT_NAMES = 1_000

#: Operations that may run without a resource type (they sweep every type).
SWEEP_TASK_TYPES = frozenset(
    {
        AwsTaskType.DISCOVER_RESOURCES,
        AwsTaskType.OPTIMIZE_COSTS,
        AwsTaskType.SECURITY_AUDIT,
        AwsTaskType.HEALTH_CHECK,
        AwsTaskType.ANALYZE_BILLING,
    }
)
#: Operations that never act on a resource type: a service the request names ("EC2 cost") is context.
UNTYPED_TASK_TYPES = frozenset({AwsTaskType.ANALYZE_BILLING})
_LAMBDA_TYPES = frozenset({AwsResourceType.LAMBDA_FUNCTION, AwsResourceType.LAMBDA_EDGE})


@dataclass(frozen=True)
class Analysis:
    """A task draft read from an issue: what to do, to what, where, with which parameters, and why."""

    task_type: AwsTaskType
    resource_type: AwsResourceType | None
    parameters: dict[str, Any] = field(default_factory=dict)
    account_id: str | None = None
    account_name: str | None = None
    region: str | None = None
    evidence: dict[str, str] = field(default_factory=dict)


# --- text normalisation -----------------------------------------------------------------------------------------

_TRANSLATE: dict[int, str | None] = {c: " " for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]}
_TRANSLATE.update({c: " " for c in range(0x7F, 0xA0)})
_TRANSLATE.update({c: None for c in (0xAD, 0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x2060, 0xFEFF)})
_TRANSLATE.update({c: None for c in [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]})
_TRANSLATE.update({0x0D: "\n", 0x2028: "\n", 0x2029: "\n", 0x0085: "\n"})


def _normalize(text: str, limit: int) -> str:
    """Truncate, NFKC-normalise (full-width letters become ASCII), drop control and invisible characters."""
    text = text[:limit].replace("\r\n", "\n")
    return unicodedata.normalize("NFKC", text)[:limit].translate(_TRANSLATE)


def _strip_html_comments(text: str) -> str:
    """Remove `<!-- ... -->` (an unclosed comment hides the rest, as GitHub renders it). Linear time."""
    parts: list[str] = []
    pos = 0
    while True:
        start = text.find("<!--", pos)
        if start < 0:
            parts.append(text[pos:])
            break
        parts.append(text[pos:start])
        end = text.find("-->", start + 4)
        if end < 0:
            break
        parts.append("\n" if "\n" in text[start:end] else " ")
        pos = end + 3
    return "".join(parts)


_HTML_TAG = re.compile(r"<[^<>\n]{0,300}>")
_IMAGE = re.compile(r"!\[[^\[\]\n]{0,300}\]\([^()\n]{0,2000}\)")
_LINK = re.compile(r"\[([^\[\]\n]{0,300})\]\([^()\n]{0,2000}\)")
_URL = re.compile(r"(?i:\b(?:https?|ftp)://)[^\s<>()\[\]`'\"]{1,2000}")
_SHORTCODE = re.compile(r"(?<!\S):[a-z0-9_+-]{1,40}:(?!\S)")


def _clean_inline(line: str) -> str:
    """Markdown decoration off: images, link targets, URLs, HTML tags, emoji shortcodes, bold markers."""
    if "](" in line:
        line = _IMAGE.sub(" ", line)
        line = _LINK.sub(r"\1", line)
    if "://" in line:
        line = _URL.sub(" ", line)
    if "<" in line:
        line = _HTML_TAG.sub(" ", line)
    if ":" in line:
        line = _SHORTCODE.sub(" ", line)
    return line.replace("**", "").replace("~~", "")


# --- mentions: words the analyzer knows, with their positions ---------------------------------------------------

_W = "0-9A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_TOKEN = re.compile(rf"[{_W}]+(?:[-.@_][{_W}]+)*")
_PUNCT = re.compile(
    r"(?P<brk>[;:()\[\]{}|!?\u2014\u2013\u2192\u3002\uff01\uff1f]|\.(?![0-9A-Za-z])|(?<=\s)-{1,2}>?(?=\s))"
    r"|(?P<conj>[,/&+\u3001\u30fb\uff0c])"
)
_CJK_KEYS: dict[str, tuple[str, V.OpWord | V.ResWord | None]] = {}
for _k, _op in V.CJK_OPS.items():
    _CJK_KEYS[_k] = ("op", _op)
for _k, _res in V.CJK_RESOURCES.items():
    _CJK_KEYS.setdefault(_k, ("res", _res))
for _k in V.CJK_BREAKS:
    _CJK_KEYS.setdefault(_k, ("brk", None))
for _k in V.CJK_CONJ:
    _CJK_KEYS.setdefault(_k, ("conj", None))
_CJK = re.compile("|".join(re.escape(k) for k in sorted(_CJK_KEYS, key=len, reverse=True)))
_BREAKS = frozenset(V.BREAK_WORDS)
_CJK_POSTPOSITIONS = frozenset(V.CJK_BREAKS)
_CONJ = frozenset(V.CONJ_WORDS)


@dataclass(frozen=True, slots=True)
class _Mention:
    start: int
    kind: str  # "op" | "res" | "brk" | "conj"
    text: str
    op: V.OpWord | None = None
    res: V.ResWord | None = None


def _lookup(phrase: str) -> _Mention | None:
    op = V.LATIN_OPS.get(phrase)
    if op is not None:
        return _Mention(0, "op", phrase, op=op)
    res = V.LATIN_RESOURCES.get(phrase)
    if res is not None:
        return _Mention(0, "res", phrase, res=res)
    if phrase in _BREAKS:
        return _Mention(0, "brk", phrase)
    if phrase in _CONJ:
        return _Mention(0, "conj", phrase)
    return None


def _mentions(text: str) -> list[_Mention]:
    """Operation words, resource names, clause breaks and conjunctions of one sentence, in order."""
    found: list[_Mention] = []
    tokens = [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]
    # words join into a phrase only across plain spaces ("set up", not "set. Up")
    spaced = [text[a[1] : b[0]].isspace() for a, b in pairwise(tokens)]
    i = 0
    while i < len(tokens):
        hit: _Mention | None = None
        width = 1
        longest = 1
        while longest < V.MAX_PHRASE_WORDS and i + longest < len(tokens) and spaced[i + longest - 1]:
            longest += 1
        for n in range(longest, 0, -1):
            hit = _lookup(" ".join(t[2] for t in tokens[i : i + n]))
            if hit is not None:
                width = n
                break
        if hit is not None:
            found.append(
                _Mention(tokens[i][0], hit.kind, text[tokens[i][0] : tokens[i + width - 1][1]], hit.op, hit.res)
            )
        elif "-" in tokens[i][2]:
            found.extend(_compound(tokens[i][0], text[tokens[i][0] : tokens[i][1]]))
        i += width
    for m in _PUNCT.finditer(text):
        found.append(_Mention(m.start(), "brk" if m.group("brk") else "conj", m.group()))
    if not text.isascii():
        for m in _CJK.finditer(text):
            kind, payload = _CJK_KEYS[m.group()]
            found.append(
                _Mention(
                    m.start(),
                    kind,
                    m.group(),
                    op=payload if isinstance(payload, V.OpWord) else None,
                    res=payload if isinstance(payload, V.ResWord) else None,
                )
            )
    found.sort(key=lambda m: m.start)
    return found


def _compound(start: int, word: str) -> list[_Mention]:
    """A hyphenated compound made only of known words ("Lambda-Funktion", "S3-Bucket"); names stay opaque."""
    parts = word.split("-")
    if len(parts) > V.MAX_PHRASE_WORDS:
        return []
    hits: list[_Mention] = []
    offset = start
    for part in parts:
        hit = _lookup(part.lower())
        if hit is None or hit.kind not in ("op", "res"):
            return []
        hits.append(_Mention(offset, hit.kind, part, hit.op, hit.res))
        offset += len(part) + 1
    return hits


def _split(mentions: Sequence[_Mention], kind: str) -> list[list[_Mention]]:
    parts: list[list[_Mention]] = [[]]
    for m in mentions:
        if m.kind == kind:
            parts.append([])
        else:
            parts[-1].append(m)
    return parts


# --- operation --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _OpPick:
    task_type: AwsTaskType
    action: str | None
    verb: _Mention | None
    text: str
    source: str


def _choose_op(mentions: Sequence[_Mention], source: str) -> _OpPick | None:
    """The operation of one sentence: the strongest word of the first clause holding a verb-like word."""
    clauses = [c for c in _split(mentions, "brk") if any(m.kind == "op" for m in c)]
    if not clauses:
        return None
    verb_clauses = [c for c in clauses if any(m.op is not None and m.op.strength >= V.VERB_LIKE for m in c)]
    clause = (verb_clauses or clauses)[0]
    ops = [m for m in clause if m.op is not None]
    top = max(m.op.strength for m in ops if m.op is not None)
    tops = [m for m in ops if m.op is not None and m.op.strength == top]
    types: dict[AwsTaskType, _Mention] = {}
    for m in tops:
        assert m.op is not None
        types.setdefault(m.op.task_type, m)
    if len(types) > 1:
        named = " and ".join(f"{t.value} ({m.text!r})" for t, m in types.items())
        raise TaskAnalysisError(
            f"ambiguous operation: both {named} are requested in the {source}; ask for one operation per issue"
        )
    verb = tops[0]
    assert verb.op is not None
    actions = list(dict.fromkeys(m.op.action for m in tops if m.op is not None and m.op.action))
    if len(actions) > 1:
        raise TaskAnalysisError(
            f"ambiguous action: both {' and '.join(actions)} are requested in the {source}; ask for one action"
        )
    return _OpPick(verb.op.task_type, actions[0] if actions else None, verb, verb.text, source)


_OP_HINT = (
    "say create/update/delete/discover/optimize/audit/health check/billing report (or add a label such as 'aws:create')"
)


def _op_from_value(value: str, source: str) -> _OpPick:
    """An explicit `operation:` value, e.g. "delete", "DeleteResource", "stop", "削除"."""
    pick = _choose_op(_mentions(value), source)
    if pick is None:
        raise TaskAnalysisError(f"unknown operation {value[:60]!r} in the {source}: {_OP_HINT}")
    return pick


# --- resource type ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ResPick:
    resource_type: AwsResourceType | None
    mention: _Mention
    neutral: bool  # only a neutral head noun ("instance") named it
    family: tuple[AwsResourceType, ...] = ()


def _resolve_group(group: Sequence[_Mention]) -> _ResPick | None:
    """One noun phrase: neutral heads give way, dominant types absorb others, a generic head noun decides."""
    names = [m for m in group if m.res is not None]
    if not names:
        return None
    specific = [m for m in names if m.res is not None and m.res.specificity > V.NEUTRAL]
    if not specific:
        for m in reversed(names):
            assert m.res is not None
            if m.res.resource_type is not None:
                return _ResPick(m.res.resource_type, m, True, m.res.family)
        last = names[-1]
        assert last.res is not None
        return _ResPick(None, last, True, last.res.family)
    types = {m.res.resource_type for m in specific if m.res is not None}
    dominated: set[AwsResourceType] = set()
    for t in types:
        if t is not None:
            dominated |= V.DOMINANCE.get(t, frozenset())
    remaining = [m for m in specific if m.res is not None and m.res.resource_type not in dominated] or specific
    distinct = {m.res.resource_type for m in remaining if m.res is not None}
    pick = remaining[0]
    last = remaining[-1]
    if len(distinct) > 1 and last.res is not None and (last.res.specificity == V.GENERIC or " " in last.text.strip()):
        pick = last  # "Lambda CloudWatch alarm", "CloudFront S3 bucket": the head noun names the resource
    assert pick.res is not None
    return _ResPick(pick.res.resource_type, pick, False)


def _ambiguous_types(picks: Sequence[_ResPick], source: str) -> TaskAnalysisError:
    named: dict[AwsResourceType, str] = {}
    for p in picks:
        if p.resource_type is not None:
            named.setdefault(p.resource_type, p.mention.text)
    listed = " and ".join(t.value for t in named)
    phrases = ", ".join(repr(t) for t in named.values())
    return TaskAnalysisError(
        f"ambiguous resource type: both {listed} are named in the {source} ({phrases}); "
        "ask for one resource type per issue or add a 'resource_type: <type>' line"
    )


def _resolve_span(mentions: Sequence[_Mention], source: str) -> _ResPick | None:
    """Part of a clause: its conjunction-separated noun phrases must agree on one type."""
    picks = [p for g in _split(mentions, "conj") if (p := _resolve_group(g)) is not None]
    if not picks:
        return None
    typed = [p for p in picks if p.resource_type is not None]
    if len({p.resource_type for p in typed}) > 1:
        raise _ambiguous_types(typed, source)
    return typed[0] if typed else picks[0]


def _context_flags(mentions: Sequence[_Mention]) -> list[bool]:
    """Per clause: is it context? After a preposition ("for the API") or before a Japanese postposition (API用の)."""
    breaks = [m for m in mentions if m.kind == "brk"]
    flags = [False] * (len(breaks) + 1)
    for i, m in enumerate(breaks):
        if m.text in _CJK_POSTPOSITIONS:
            flags[i] = True
        elif m.text.lower() in _BREAKS:
            flags[i + 1] = True
    return flags


def _resolve_sentence(mentions: Sequence[_Mention], verb: _Mention | None, source: str) -> _ResPick | None:
    """The object of the verb: after it in its clause, else before it (verb-final), else the nearest clause,
    preferring clauses that are not context ("Lambda for new API: deploy" deploys a Lambda)."""
    clauses = _split(mentions, "brk")
    context = _context_flags(mentions)
    indexes = list(range(len(clauses)))
    if verb is not None:
        index = next((i for i, c in enumerate(clauses) if any(m is verb for m in c)), 0)
        clause = clauses[index]
        for span in ([m for m in clause if m.start > verb.start], [m for m in clause if m.start < verb.start]):
            pick = _resolve_span(span, source)
            if pick is not None:
                return pick
        indexes = indexes[index + 1 :] + indexes[:index][::-1]
    for i in [i for i in indexes if not context[i]] + [i for i in indexes if context[i]]:
        pick = _resolve_span(clauses[i], source)
        if pick is not None:
            return pick
    return None


def _res_from_value(value: str, strict: bool, source: str) -> _ResPick | None:
    """An explicit `resource_type:` value: an enum name ("S3Bucket") or a common name ("S3 bucket")."""
    pick = _resolve_sentence(_mentions(value), None, source)
    if pick is None or pick.resource_type is None:
        if strict:
            raise TaskAnalysisError(f"unknown resource type {value[:60]!r} in the {source}; name one of: {_TYPE_LIST}")
        return None
    return pick


_TYPE_LIST = ", ".join(f"{t.value} ({V.RESOURCE_EXAMPLES[t]})" for t in AwsResourceType)


# --- body structure ---------------------------------------------------------------------------------------------

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}(?:[ \t]+(.*))?$")
_CHECKBOX = re.compile(r"^[ \t]{0,12}(?:[-*+]|\d{1,3}[.)])[ \t]{1,4}\[([ xX])\][ \t]?")
_BULLET = re.compile(r"^[ \t]{0,12}(?:[-*+]|\d{1,3}[.)])[ \t]{1,4}")
_QUOTE = re.compile(r"^[ \t]{0,3}(?:>[ \t]?){1,10}")
_RULE = re.compile(r"^[ \t]{0,3}(?:[-=*_][ \t]{0,2}){3,}$")
_KV = re.compile(
    r"^([ \t]{0,40})(?:[-*+][ \t]{1,4})?(?:\*\*|__)?[\"']?"
    r"([^\W\d][\w .()/-]{0,39}?)[\"']?(?:\*\*|__)?[ \t]{0,4}"
    r"(?:[:\uff1a](?:\*\*|__)?(?:[ \t]+|$)|(=)[ \t]{0,3})(.*)$"
)
_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+|[\u3002\uff01\uff1f]")
_INLINE_CODE = re.compile(r"`([^`\n]{1,200})`")
_MASKS = re.compile(
    r"(?<=(?i:s3)://)[^\s`'\"<>()]{1,300}|(?i:\barn:aws)[a-z-]{0,20}:[^\s`'\"<>()]{0,1000}|[\w.+-]{1,64}@[\w-]{1,63}\.[\w.-]{1,200}"
)
_NAMED = re.compile(r"(?i:\b(?:named|called))[ \t]{1,3}([^\s,;()]{1,100})")
_PLACEHOLDERS = frozenset({"", "_no response_", "no response", "n/a", "na", "none", "-", "tbd", "?", "null", "..."})
_HEADING_KEYS: tuple[tuple[str, str], ...] = (
    ("resource type", "resource_type"),
    ("operation", "operation"),
    ("instance type", "instance_type"),
    ("instance id", "instance_id"),
    ("account id", "account_id"),
    ("account", "account"),
    ("region", "region"),
    ("runtime", "runtime"),
    ("memory", "memory_size"),
    ("timeout", "timeout"),
    ("handler", "handler"),
    ("bucket name", "bucket_name"),
    ("function name", "function_name"),
    ("tag", "tags"),
    ("タグ", "tags"),
    ("リージョン", "region"),
    ("アカウント", "account"),
)


@dataclass
class _Entry:
    key: str  # canonical key
    value: str
    hint: str  # unit hint from "(MB)" / "(minutes)"
    source: str


@dataclass
class _Doc:
    prose: list[str] = field(default_factory=list)  # cleaned lines of free text (original case)
    units: list[str] = field(default_factory=list)  # masked sentences, for word scanning
    entries: list[_Entry] = field(default_factory=list)
    tags: list[tuple[str, str, str]] = field(default_factory=list)  # (key, value, source)


def _key_of(raw: str) -> tuple[str | None, str]:
    """Canonical parameter key for a raw key ("Memory (MB)" -> ("memory_size", "mb")), or None."""
    hint = ""
    if "(" in raw:
        inner = raw[raw.find("(") + 1 : raw.rfind(")") if ")" in raw else len(raw)]
        hint = inner.strip().lower()
        raw = raw[: raw.find("(")]
    key = re.sub(r"[ \t/-]+", "_", raw.strip().lower()).strip("_")
    return V.KEY_ALIASES.get(key), hint


def _heading_key(text: str) -> tuple[str | None, str]:
    key, hint = _key_of(text.strip().rstrip("?:").strip())
    if key is not None:
        return key, hint
    lowered = " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
    if len(lowered.split()) > 4:
        return None, hint  # a sentence, not a form field ("Summary of the account migration")
    for needle, canonical in _HEADING_KEYS:
        if needle in lowered:
            return canonical, hint
    return None, hint


def _clean_value(value: str) -> str:
    value = value.strip()
    if " #" in value:
        value = value[: value.find(" #")]
    value = value.strip().rstrip(",").strip()
    for _ in range(3):
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "`'\"*_":
            value = value[1:-1].strip()
    return value


def _mask(line: str) -> str:
    """Hide names and identifiers from word scanning, keeping positions ("bucket named lambda-logs")."""

    def blank(m: re.Match[str]) -> str:
        return " " * len(m.group())

    def blank_code(m: re.Match[str]) -> str:
        inner = m.group(1).strip().lower()
        if len(inner) <= 40 and (inner in V.LATIN_RESOURCES or inner in V.LATIN_OPS):
            return " " + m.group(1) + " "
        return " " * len(m.group())

    def blank_name(m: re.Match[str]) -> str:
        return m.group()[: m.start(1) - m.start()] + " " * len(m.group(1))

    if "`" in line:
        line = _INLINE_CODE.sub(blank_code, line)
    line = _MASKS.sub(blank, line)
    return _NAMED.sub(blank_name, line)


def _parse_body(body: str) -> _Doc:
    doc = _Doc()
    prose_chars = 0
    fence: str | None = None
    section: str | None = None
    section_hint = ""
    section_lines = 0
    tags_block_indent: int | None = None  # inside a "tags:" block (YAML map or list under it)

    def add_prose(text: str) -> None:
        nonlocal prose_chars
        text = text.strip()
        if not text or prose_chars >= MAX_PROSE_CHARS:
            return
        text = text[: MAX_PROSE_CHARS - prose_chars]
        prose_chars += len(text) + 1
        doc.prose.append(text)
        for sentence in _SENTENCE_END.split(_mask(text)):
            if sentence.strip():
                doc.units.append(sentence)

    def kv_line(line: str, source: str, max_indent: int) -> tuple[str | None, str, str, bool] | None:
        m = _KV.match(line)
        if m is None or len(m.group(1).expandtabs(4)) > max_indent:
            return None
        key, hint = _key_of(m.group(2))
        return key, hint, m.group(4), m.group(3) is not None

    for raw in body.split("\n")[:MAX_LINES]:
        line = raw[:MAX_LINE_CHARS]
        stripped = line.strip()
        fence_match = _FENCE.match(line)
        if fence_match is not None:
            marker = fence_match.group(1)
            if fence is None:
                fence = marker
                tags_block_indent = None
                continue
            if marker[0] == fence[0] and len(marker) >= len(fence) and not stripped.strip(marker[0]):
                fence = None
                tags_block_indent = None
                continue
        source = "code block" if fence is not None else "body"
        if tags_block_indent is not None:
            indent = len(line) - len(line.lstrip(" \t"))
            if stripped and (indent > tags_block_indent or _BULLET.match(line)):
                doc.tags.extend((k, v, source) for k, v in _tag_pairs(_BULLET.sub("", line), loose=True))
                continue
            tags_block_indent = None
        if fence is not None:
            parsed = kv_line(line, source, 4)
            if parsed is not None and parsed[0] is not None:
                key, hint, value, _ = parsed
                assert key is not None
                if key == "tags" and not _clean_value(value):
                    tags_block_indent = len(line) - len(line.lstrip(" \t"))
                elif key == "tags":
                    doc.tags.extend((k, v, source) for k, v in _tag_pairs(value, loose=True))
                else:
                    doc.entries.append(_Entry(key, _clean_value(value), hint, source))
            continue
        if not stripped:
            continue
        heading = _HEADING.match(line)
        if heading is not None:
            text = _clean_inline(heading.group(1) or "").strip().rstrip("#").strip()
            section, section_hint = _heading_key(text) if text else (None, "")
            section_lines = 0
            continue
        if _RULE.match(line):
            continue
        checkbox = _CHECKBOX.match(line)
        ticked = checkbox is not None
        if checkbox is not None:
            if checkbox.group(1) == " ":
                continue  # an unticked option of a template
            line = line[checkbox.end() :]
        quote = _QUOTE.match(line)
        if quote is not None:
            line = line[quote.end() :]
        line = _clean_inline(line)
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("|") and stripped.endswith("|") and len(stripped) > 1:
            cells = [_clean_value(c) for c in stripped[1:-1].split("|")]
            if all(re.fullmatch(r":?-{1,200}:?", c or "-") for c in cells):
                continue  # the separator row
            if len(cells) == 2:
                header = {cells[0].lower(), cells[1].lower()}
                if header <= {"key", "value", "name", "tag", "tag key", "tag value", "field", "parameter", "setting"}:
                    continue
                if section == "tags":
                    doc.tags.extend((k, v, "body") for k, v in _tag_pairs(f"{cells[0]}={cells[1]}", loose=True))
                    continue
                key, hint = _key_of(cells[0])
                if key == "tags":
                    doc.tags.extend((k, v, "body") for k, v in _tag_pairs(cells[1], loose=True))
                elif key is not None:
                    doc.entries.append(_Entry(key, cells[1], hint, "body table"))
                else:
                    add_prose(cells[1])
            continue
        if section is not None:
            if section == "tags":
                doc.tags.extend((k, v, "body") for k, v in _tag_pairs(_BULLET.sub("", line), loose=True))
                continue
            # an issue-form field holds one value (or ticked boxes); later lines of the section are prose
            if (section_lines == 0 or ticked) and section_lines < MAX_SECTION_LINES:
                section_lines += 1
                value = _clean_value(_BULLET.sub("", line))
                if value.lower() not in _PLACEHOLDERS:
                    doc.entries.append(_Entry(section, value, section_hint, "issue form"))
                continue
        parsed = kv_line(line, "body", 40)
        if parsed is not None:
            key, hint, value, is_equals = parsed
            if key == "tags":
                if _clean_value(value):
                    doc.tags.extend((k, v, "body") for k, v in _tag_pairs(value, loose=True))
                else:
                    tags_block_indent = len(line) - len(line.lstrip(" \t"))
                continue
            if key is not None:
                doc.entries.append(_Entry(key, _clean_value(value), hint, "body"))
                add_prose(value)
                continue
            add_prose(line if is_equals else value)
            continue
        add_prose(_BULLET.sub("", line))
    return doc


# --- parameters -------------------------------------------------------------------------------------------------

_PARAM_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]*")
_INSTANCE_TYPE = re.compile(
    r"(?:db\.|cache\.)?[a-z]{1,4}\d{1,2}[a-z0-9-]{0,10}\.(?:nano|micro|small|medium|large|\d{0,2}xlarge|metal(?:-\d{1,2}xl)?)"
)
_AMI = re.compile(r"ami-[0-9a-f]{8,17}")
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
_RUNTIME = re.compile(
    r"python3\.\d{1,2}|nodejs\d{1,2}\.x|java\d{1,2}(?:\.al2)?|dotnet(?:core)?\d{1,2}(?:\.\d)?|ruby\d\.\d{1,2}"
    r"|go1\.x|provided(?:\.al2(?:023)?)?"
)
_RUNTIME_PHRASE = re.compile(
    r"(?<![a-z0-9.])(python|node\.?js|node|java|ruby|\.net|dotnet)[ \t]?(\d{1,2})(?:\.(\d{1,2}|x))?(?![a-z0-9]|\.\d)"
)
_REGION = re.compile(
    r"(?<![a-z0-9-])((?:us|eu|ap|sa|ca|me|af|il|mx|cn)(?:-gov)?-"
    r"(?:east|west|north|south|central|northeast|northwest|southeast|southwest)-[1-9])(?![0-9-]|[a-z]{2})"
)
_REGION_NICK = re.compile(
    "(" + "|".join(re.escape(k) for k in sorted(V.REGION_NICKNAMES, key=len, reverse=True)) + r")[ \t]{0,2}"
    r"(?:region|リージョン)"
)
_ACCOUNT_ID = re.compile(r"(?<![A-Za-z0-9-])(\d{12}|\d{4}-\d{4}-\d{4})(?![A-Za-z0-9]|-\d)")
_MEMORY_KEYWORD = re.compile(
    r"(?<![a-z_])(?:memory|メモリ)(?:[ _-]?size)?(?:[ \t]{0,3}(?:[:=]|of|to|is|at|with))?[ \t]{0,3}"
    r"(\d{1,6}(?:\.\d{1,3})?)[ \t]{0,2}(mb|mib|m|gb|gib|g)?(?![a-z0-9])"
)
_MEMORY_UNIT = re.compile(
    r"(?<![a-z0-9.])(\d{1,6}(?:\.\d{1,3})?)[ \t]{0,2}(mb|mib|gb|gib)(?![a-z0-9])"
    r"(?:[ \t]{1,3}(?:of[ \t]{1,3})?(memory|ram|メモリ))?"
)
_TIME_UNIT = r"(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|秒|分)"
_TIMEOUT_KEYWORD = re.compile(
    r"(?<![a-z_])(?:time-?out|タイムアウト)(?:[ \t]{0,3}(?:[:=]|of|to|is|at|after|with))?[ \t]{0,3}"
    rf"(\d{{1,6}})[ \t]{{0,2}}{_TIME_UNIT}?(?![a-z0-9])"
)
_TIMEOUT_BEFORE = re.compile(
    r"(?<![a-z0-9.])(\d{1,6})[ \t-]{0,2}(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m)[ \t-]{1,2}time-?out"
)
_HANDLER = re.compile(r"(?i:\bhandler)[ \t]{0,3}(?:[:=][ \t]{0,3}|is[ \t]{1,3})?[`'\"]?([A-Za-z0-9_./-]{1,128})")
_HANDLER_VALUE = re.compile(r"[A-Za-z0-9_./-]{0,120}[A-Za-z0-9_]\.[A-Za-z_][A-Za-z0-9_]{0,63}")
_NAME_END = r"[`'\"]?([^\s`'\",;()<>\u300c\u300d]{1,100})"
_BUCKET_NAMED = re.compile(r"(?i:\bbuckets?)[ \t]{1,3}(?i:named|called)[ \t]{1,3}" + _NAME_END)
_BUCKET_CODE = re.compile(r"(?i:\bbuckets?)[ \t]{0,3}[:=]?[ \t]{0,3}`([^`\n]{1,100})`")
_BUCKET_URI = re.compile(r"(?i:\bs3)://([^\s/`'\",;()<>]{1,100})")
_BUCKET_BARE = re.compile(r"(?i:\bbucket)[ \t]{1,3}([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?![A-Za-z0-9_.-])")
_BUCKET_BARE_BEFORE = re.compile(
    r"(?<![A-Za-z0-9_.-])([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])[ \t]{1,3}(?i:(?:s3[ \t]{1,3})?bucket)(?![A-Za-z0-9_])"
)
_BUCKET_JA = re.compile(r"バケット[ \t]{0,2}[「『`'\"]([^」』`'\"\n]{1,100})")
_FUNCTION_NAMED = re.compile(r"(?i:\b(?:functions?|lambdas?))[ \t]{1,3}(?i:named|called)[ \t]{1,3}" + _NAME_END)
_FUNCTION_CODE = re.compile(r"(?i:\b(?:function|lambda))[ \t]{0,3}[:=]?[ \t]{0,3}`([^`\n]{1,100})`")
_FUNCTION_JA = re.compile(r"(?:関数|ファンクション)[ \t]{0,2}[「『`'\"]([^」』`'\"\n]{1,100})")
_NAMED_ANY = re.compile(r"(?i:\b(?:named|called))[ \t]{1,3}" + _NAME_END)
_TAG_TRIGGER = re.compile(r"(?<![A-Za-z0-9_])(?i:tags?|タグ)(?![A-Za-z0-9_])[ \t]{0,3}[:=]?[ \t]{0,3}")
_TAG_PAIR = re.compile(
    r"(?<![^\s,;(\[{])([\w.:/+@-]{1,200})[ \t]{0,2}=[ \t]{0,2}(\"[^\"\n]{0,300}\"|'[^'\n]{0,300}'|[^\s,;)\]}]{0,300})"
)
_TO_BEFORE = re.compile(r"(?i:\bto|\binto|->|→|=>)[ \t]{0,3}(?:[:=][ \t]{0,2})?$")
_BUCKET_NAME_OK = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_FUNCTION_NAME_OK = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NAME_STOPWORDS = frozenset({"after", "for", "the", "a", "an", "by", "like", "in", "with", "as", "to", "and", "or"})
_TIME_FACTORS: dict[str, float] = {
    **dict.fromkeys(("ms", "millisecond", "milliseconds"), 0.001),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds", "秒"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes", "分"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
}


@dataclass
class _Candidates:
    """Values found for one parameter, in order, each flagged when it follows "to" ("from t3.micro to t3.large")."""

    values: list[tuple[Any, bool]] = field(default_factory=list)

    def add(self, value: Any, text: str = "", start: int = 0) -> None:
        self.values.append((value, bool(text) and _TO_BEFORE.search(text[max(0, start - 12) : start]) is not None))

    def pick(self, name: str) -> Any | None:
        distinct = list(dict.fromkeys(v for v, _ in self.values))
        if len(distinct) <= 1:
            return distinct[0] if distinct else None
        targeted = list(dict.fromkeys(v for v, to in self.values if to))
        if len(targeted) == 1:
            return targeted[0]
        shown = ", ".join(repr(v) for v in distinct[:4])
        raise TaskAnalysisError(f"ambiguous {name}: the issue names {shown}; keep one or write '{name}: <value>'")


def _valid_bucket(name: str, *, strict: bool) -> str | None:
    ok = (
        _BUCKET_NAME_OK.fullmatch(name) is not None
        and ".." not in name
        and ".-" not in name
        and "-." not in name
        and re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", name) is None
        and not name.startswith(("xn--", "sthree-"))
        and not name.endswith(("-s3alias", "--ol-s3"))
    )
    if ok:
        return name
    if strict:
        raise TaskAnalysisError(
            f"invalid S3 bucket name {name[:80]!r}: use 3-63 lowercase letters, digits, dots and hyphens, "
            "starting and ending with a letter or digit"
        )
    return None


def _valid_function(name: str, *, strict: bool) -> str | None:
    if ":function:" in name:
        name = name.split(":function:", 1)[1].split(":", 1)[0]
    if _FUNCTION_NAME_OK.fullmatch(name):
        return name
    if strict:
        raise TaskAnalysisError(
            f"invalid Lambda function name {name[:80]!r}: use 1-64 letters, digits, hyphens and underscores"
        )
    return None


def _strip_name(value: str) -> str:
    return value.strip().rstrip(".,;:!?)]}").strip("`'\"")


def _normalize_runtime(token: str) -> str | None:
    token = token.lower()
    if _RUNTIME.fullmatch(token):
        return token
    m = _RUNTIME_PHRASE.fullmatch(token) or _RUNTIME_PHRASE.search(token)
    if m is None:
        return None
    lang, major, minor = m.group(1), m.group(2), m.group(3)
    if lang == "python":
        return f"python{major}.{minor}" if major == "3" and minor and minor != "x" else None
    if lang in ("node", "nodejs", "node.js"):
        return f"nodejs{major}.x"
    if lang == "java":
        return f"java{major}"
    if lang == "ruby":
        return f"ruby{major}.{minor}" if minor and minor != "x" else None
    return f"dotnet{major}"


def _memory_mb(number: str, unit: str | None, hint: str = "") -> int:
    unit = (unit or hint or "mb").lower()
    value = float(number)
    mb = value * 1024 if unit.startswith("g") else value
    if mb != int(mb) or not 128 <= mb <= 10240:
        shown = f"{number} {unit.upper()}" if unit else number
        raise TaskAnalysisError(f"memory_size {shown} is out of range: Lambda allows 128-10240 MB")
    return int(mb)


def _timeout_seconds(number: str, unit: str | None, hint: str = "") -> int:
    unit = (unit or "").lower()
    if not unit:
        unit = "minutes" if "min" in hint else "hours" if "hour" in hint else "seconds"
    seconds = int(number) * _TIME_FACTORS.get(unit, 1)
    if seconds != int(seconds) or not 1 <= seconds <= 900:
        raise TaskAnalysisError(f"timeout {number} {unit} is out of range: Lambda allows 1-900 seconds")
    return int(seconds)


def _tag_pairs(text: str, *, loose: bool) -> list[tuple[str, str]]:
    """`Env=prod, Team=web`; with `loose` also `Env: prod` and `{Env: prod}` (one pair per comma part)."""
    text = text.strip().strip("{}[]").strip()
    pairs = [(m.group(1), m.group(2)) for m in _TAG_PAIR.finditer(text)]
    if pairs or not loose:
        # in running text a sentence may end right after the last value ("... and Env=dev.")
        return [(_clean_value(k), _clean_value(v if loose else v.rstrip(".!?"))) for k, v in pairs]
    for part in re.split(r"[,;]", text)[: MAX_TAGS + 10]:
        key, sep, value = part.partition(":")
        if sep and key.strip():
            pairs.append((_clean_value(key), _clean_value(value)))
    return pairs


_TAG_CHARS = frozenset(" _.:/=+-@")


def _check_tags(pairs: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value, _source in pairs:
        if not key or (key.lower() in ("key", "tag", "name") and value.lower() in ("value", "")):
            continue
        if key.lower().startswith("aws:"):
            raise TaskAnalysisError(f"tag key {key[:60]!r} uses the reserved 'aws:' prefix; AWS does not allow it")
        if len(key) > 128:
            raise TaskAnalysisError(f"tag key {key[:40]!r}... is longer than 128 characters")
        if len(value) > 256:
            raise TaskAnalysisError(f"tag {key!r} has a value longer than 256 characters")
        for text in (key, value):
            if not all(ch.isalnum() or ch in _TAG_CHARS for ch in text):
                raise TaskAnalysisError(
                    f"tag {key[:60]!r}={value[:60]!r} uses characters AWS does not allow "
                    "(letters, digits, spaces and _ . : / = + - @ only)"
                )
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise TaskAnalysisError(f"too many tags: at most {MAX_TAGS} are allowed, the issue has {len(tags)}")
    return tags


# --- the analyzer -------------------------------------------------------------------------------------------------


def _label_parts(label: str) -> tuple[str, str]:
    """("aws", "create") for "aws:create", ("", "delete") for "delete"; hyphens and underscores read as spaces."""
    label = _normalize(label, MAX_LABEL_CHARS).strip().lower()
    prefix = ""
    for sep in (":", "/"):
        if sep in label:
            head, _, tail = label.partition(sep)
            if head.strip() in _LABEL_PREFIXES:
                prefix, label = head.strip(), tail
            break
    return prefix, " ".join(label.replace("-", " ").replace("_", " ").split())


_LABEL_PREFIXES = frozenset(
    {"aws", "op", "operation", "action", "task", "type", "kind", "resource", "service", "region", "account"}
)


def _first_op_unit(units: Sequence[list[_Mention]]) -> int | None:
    best: int | None = None
    for i, mentions in enumerate(units):
        strengths = [m.op.strength for m in mentions if m.op is not None]
        if strengths and max(strengths) >= V.VERB_LIKE:
            return i
        if strengths and best is None:
            best = i
    return best


def _compatible(
    sources: Iterable[tuple[str, Iterable[_Mention]]], family: tuple[AwsResourceType, ...]
) -> tuple[AwsResourceType, str, str] | None:
    """The one type of `family` a source names specifically (refines "instance" to RDS in "RDS ... instance")."""
    for source, mentions in sources:
        found: dict[AwsResourceType, str] = {}
        for m in mentions:
            if m.res is not None and m.res.specificity > V.NEUTRAL and m.res.resource_type in family:
                found.setdefault(m.res.resource_type, m.text)
        if len(found) == 1:
            ((rt, text),) = found.items()
            return rt, text, source
    return None


def _explicit(entries: Sequence[_Entry], key: str) -> list[_Entry]:
    return [e for e in entries if e.key == key and e.value.lower() not in _PLACEHOLDERS]


def analyze_issue(issue: IssueRef, accounts: Mapping[str, str] | None = None) -> Analysis:
    """Read an issue into a task draft, or raise `TaskAnalysisError` saying what is missing or ambiguous."""
    title = _normalize(str(issue.title or ""), MAX_TITLE_CHARS)
    title = _clean_inline(_strip_html_comments(title)).replace("\n", " ")
    body = _strip_html_comments(_normalize(str(issue.body or ""), MAX_BODY_CHARS))
    labels = [str(label)[: MAX_LABEL_CHARS * 2] for label in list(issue.labels or [])[:MAX_LABELS]]
    doc = _parse_body(body)
    evidence: dict[str, str] = {}

    title_masked = _mask(title)
    title_mentions = _mentions(title_masked)
    label_info = [(_label_parts(label), label) for label in labels]
    label_mentions = [(_mentions(text), prefix, text, raw) for (prefix, text), raw in label_info]
    body_units = [_mentions(u) for u in doc.units]

    # -- operation: explicit key > title > labels > body prose
    op: _OpPick | None = None
    explicit_ops = [
        _op_from_value(e.value, f"{e.source} ('{e.key}: {e.value[:40]}')") for e in _explicit(doc.entries, "operation")
    ]
    if explicit_ops:
        distinct = {(p.task_type, p.action) for p in explicit_ops}
        if len({t for t, _ in distinct}) > 1:
            names = " and ".join(dict.fromkeys(p.task_type.value for p in explicit_ops))
            raise TaskAnalysisError(f"ambiguous operation: the issue's explicit operation lines say {names}")
        op = explicit_ops[0]
        if op.action is None:
            op = next((p for p in explicit_ops if p.action), op)
    if op is None:
        op = _choose_op(title_mentions, "title")
    if op is None:
        label_ops: list[_OpPick] = []
        for mentions, prefix, text, raw in label_mentions:
            pick = _choose_op(mentions, f"label {raw!r}")
            if pick is None or pick.verb is None or pick.verb.op is None:
                continue
            if prefix or pick.verb.op.strength >= V.STRONG or pick.verb.text.lower() == text:
                label_ops.append(pick)
        if len({p.task_type for p in label_ops}) > 1:
            names = " and ".join(dict.fromkeys(f"{p.task_type.value} ({p.source})" for p in label_ops))
            raise TaskAnalysisError(f"ambiguous operation: the labels ask for {names}")
        op = label_ops[0] if label_ops else None
    op_unit: int | None = None
    if op is None:
        op_unit = _first_op_unit(body_units)
        if op_unit is not None:
            op = _choose_op(body_units[op_unit], "body")
    if op is None:
        raise TaskAnalysisError(f"no operation recognised in the issue: {_OP_HINT}")
    evidence["operation"] = op.text
    evidence["operation_source"] = op.source

    # -- resource type: explicit key > title > labels > body prose
    res: _ResPick | None = None
    res_source = ""
    typed = op.task_type not in UNTYPED_TASK_TYPES
    strict = _explicit(doc.entries, "resource_type")
    lenient = _explicit(doc.entries, "resource")
    explicit_res = [
        (p, e)
        for e, is_strict in [*((e, True) for e in strict), *((e, False) for e in lenient)]
        if (p := _res_from_value(e.value, is_strict, f"{e.source} line '{e.key}: {e.value[:40]}'")) is not None
    ]
    if explicit_res:
        if len({p.resource_type for p, _ in explicit_res}) > 1:
            raise _ambiguous_types([p for p, _ in explicit_res], "explicit resource type lines")
        res, entry = explicit_res[0]
        res_source = f"{entry.source} ('{entry.key}:')"
    if res is None and typed:
        verb = op.verb if op.source == "title" else None
        res = _resolve_sentence(title_mentions, verb, "title")
        res_source = "title"
    if res is None and typed:
        label_res: list[tuple[_ResPick, str]] = []
        for mentions, prefix, _text, raw in label_mentions:
            label_pick = _resolve_sentence(mentions, None, f"label {raw!r}")
            if label_pick is not None and label_pick.resource_type is not None and (prefix or not label_pick.neutral):
                label_res.append((label_pick, raw))
        if len({p.resource_type for p, _ in label_res}) > 1:
            raise _ambiguous_types([p for p, _ in label_res], "labels")
        if label_res:
            res, res_source = label_res[0][0], f"label {label_res[0][1]!r}"
    if res is None and body_units and typed:
        try:
            res, res_source = _resource_from_body(body_units, op, op_unit)
        except TaskAnalysisError:
            # A sweep (optimize, audit, health, discover) may name several types in its body: it covers them all.
            if op.task_type not in SWEEP_TASK_TYPES:
                raise
    if res is not None and res.neutral:
        refined = _compatible(
            [
                ("title", title_mentions),
                ("labels", [m for ms, _p, _t, _r in label_mentions for m in ms]),
                ("body", [m for ms in body_units for m in ms]),
            ],
            res.family or ((res.resource_type,) if res.resource_type else ()),
        )
        if refined is not None:
            res = _ResPick(refined[0], _Mention(0, "res", f"{res.mention.text} ({refined[1]})"), False)
            res_source = f"{res_source} + {refined[2]}"
    if not typed:
        res = None  # even an explicit `resource_type:` line: the report covers every service
    resource_type = res.resource_type if res is not None else None
    if resource_type is None and op.task_type not in SWEEP_TASK_TYPES:
        raise TaskAnalysisError(
            f"no resource type recognised for {op.task_type.value} ({op.text!r}); name one of: {_TYPE_LIST}"
        )
    if res is not None and resource_type is not None:
        evidence["resource_type"] = res.mention.text
        evidence["resource_type_source"] = res_source

    # -- parameters, account, region
    parameters = _billing_parameters(title, doc) if not typed else _parameters(title, doc, resource_type)
    if op.task_type is AwsTaskType.UPDATE_RESOURCE and op.action and "action" not in parameters:
        parameters = {"action": op.action, **parameters}
        evidence["action"] = op.text
    region, region_source = _region(title, doc, labels)
    if region is not None:
        evidence["region"] = f"{region} ({region_source})"
    account_name, account_id, account_source = _account(title, doc, label_info, accounts)
    if account_name is not None or account_id is not None:
        evidence["account"] = f"{account_name or account_id} ({account_source})"
    if parameters:
        evidence["parameters"] = ", ".join(parameters)
    return Analysis(
        task_type=op.task_type,
        resource_type=resource_type,
        parameters=parameters,
        account_id=account_id,
        account_name=account_name,
        region=region,
        evidence=evidence,
    )


def _resource_from_body(
    units: Sequence[list[_Mention]], op: _OpPick, op_unit: int | None
) -> tuple[_ResPick | None, str]:
    """The body decides the type: the sentence of the verb first, else the one type the prose names."""
    if op_unit is None:
        op_unit = next(
            (i for i, ms in enumerate(units) if any(m.op is not None and m.op.task_type is op.task_type for m in ms)),
            None,
        )
    if op_unit is not None:
        verb = next(
            (m for m in units[op_unit] if m.op is not None and m.op.task_type is op.task_type),
            None,
        )
        pick = _resolve_sentence(units[op_unit], verb, "body")
        if pick is not None and pick.resource_type is not None:
            return pick, "body"
    picks = [p for ms in units for group in _split(ms, "conj") if (p := _resolve_group(group)) is not None]
    typed = [p for p in picks if p.resource_type is not None]
    specific = [p for p in typed if not p.neutral] or typed
    if not specific:
        return None, ""
    types = {p.resource_type for p in specific}
    dominated: set[AwsResourceType] = set()
    for t in types:
        if t is not None:
            dominated |= V.DOMINANCE.get(t, frozenset())
    remaining = [p for p in specific if p.resource_type not in dominated] or specific
    if len({p.resource_type for p in remaining}) > 1:
        raise _ambiguous_types(remaining, "issue body")
    return remaining[0], "body"


def _parameters(title: str, doc: _Doc, resource_type: AwsResourceType | None) -> dict[str, Any]:
    lambda_like = resource_type in _LAMBDA_TYPES
    found: dict[str, _Candidates] = {}

    def cand(name: str) -> _Candidates:
        return found.setdefault(name, _Candidates())

    names = _Candidates()
    for text in [title, *doc.prose]:
        lower = text.lower()
        for m in _PARAM_TOKEN.finditer(text):
            token = m.group().rstrip(".-+@").lower()
            if len(token) > 100:
                continue
            if _INSTANCE_TYPE.fullmatch(token):
                cand("instance_type").add(token, lower, m.start())
            elif _AMI.fullmatch(token):
                cand("image_id").add(token, lower, m.start())
            elif _INSTANCE_ID.fullmatch(token):
                cand("instance_id").add(token)
            elif lambda_like and _RUNTIME.fullmatch(token):
                cand("runtime").add(token, lower, m.start())
        if lambda_like:
            for m in _RUNTIME_PHRASE.finditer(lower):
                runtime = _normalize_runtime(m.group())
                if runtime is not None:
                    cand("runtime").add(runtime, lower, m.start())
            for m in _MEMORY_KEYWORD.finditer(lower):
                cand("memory_size").add(_memory_mb(m.group(1), m.group(2)), lower, m.start(1))
            for m in _MEMORY_UNIT.finditer(lower):
                if m.group(3) or m.group(2) in ("mb", "mib"):
                    cand("memory_size").add(_memory_mb(m.group(1), m.group(2)), lower, m.start())
            for m in _HANDLER.finditer(text):
                value = _strip_name(m.group(1))
                if _HANDLER_VALUE.fullmatch(value):
                    cand("handler").add(value)
        for m in _TIMEOUT_KEYWORD.finditer(lower):
            cand("timeout").add(_timeout_seconds(m.group(1), m.group(2)), lower, m.start(1))
        for m in _TIMEOUT_BEFORE.finditer(lower):
            cand("timeout").add(_timeout_seconds(m.group(1), m.group(2)), lower, m.start())
        for pattern, strict in ((_BUCKET_NAMED, True), (_BUCKET_URI, True), (_BUCKET_JA, True), (_BUCKET_CODE, None)):
            for m in pattern.finditer(text):
                value = _strip_name(m.group(1))
                is_strict = bool(strict) or " " not in value.strip()
                bucket = _valid_bucket(value, strict=is_strict) if value.lower() not in _NAME_STOPWORDS else None
                if bucket is not None:
                    cand("bucket_name").add(bucket, lower, m.start())
        for m in [*_BUCKET_BARE.finditer(text), *_BUCKET_BARE_BEFORE.finditer(text)]:
            value = m.group(1)
            if (
                any(ch in value for ch in "-.0123456789")
                and _REGION.fullmatch(value) is None
                and _INSTANCE_TYPE.fullmatch(value) is None
                and value not in V.LATIN_RESOURCES
                and value not in V.LATIN_OPS
                and _valid_bucket(value, strict=False)
            ):
                cand("bucket_name").add(value, lower, m.start())
        for pattern, strict in ((_FUNCTION_NAMED, True), (_FUNCTION_JA, True), (_FUNCTION_CODE, None)):
            for m in pattern.finditer(text):
                value = _strip_name(m.group(1))
                is_strict = bool(strict) or " " not in value.strip()
                if value.lower() in _NAME_STOPWORDS:
                    continue
                function = _valid_function(value, strict=is_strict)
                if function is not None:
                    cand("function_name").add(function, lower, m.start())
        for m in _NAMED_ANY.finditer(text):
            value = _strip_name(m.group(1))
            if value and value.lower() not in _NAME_STOPWORDS:
                names.add(value, lower, m.start())
    tag_pairs: list[tuple[str, str, str]] = list(doc.tags)
    for text in [title, *doc.prose]:
        trigger = _TAG_TRIGGER.search(text)  # one pass per line: "tag Owner=alice, Env=dev"
        if trigger is not None:
            tag_pairs.extend((k, v, "text") for k, v in _tag_pairs(text[trigger.end() :], loose=False))

    parameters: dict[str, Any] = {}
    for param in ("instance_type", "image_id", "runtime", "memory_size", "timeout", "handler", "bucket_name"):
        if param in found:
            parameters[param] = found[param].pick(param)
    if "function_name" in found:
        parameters["function_name"] = found["function_name"].pick("function_name")
    if "instance_id" in found:
        ids = list(dict.fromkeys(v for v, _ in found["instance_id"].values))
        parameters["instance_id"] = ids[0]
        if len(ids) > 1:
            parameters["instance_ids"] = ids

    # explicit `key: value` lines override what the prose suggested
    for entry in doc.entries:
        value = entry.value
        if value.lower() in _PLACEHOLDERS:
            continue
        key = entry.key
        if key == "instance_type" or key == "instance":
            if _INSTANCE_TYPE.fullmatch(value.lower()):
                parameters["instance_type"] = value.lower()
            elif key == "instance" and _INSTANCE_ID.fullmatch(value.lower()):
                parameters["instance_id"] = value.lower()
            elif key == "instance_type":
                raise TaskAnalysisError(f"invalid instance type {value[:40]!r} (expected e.g. t3.micro, m5.large)")
        elif key == "image_id":
            if not _AMI.fullmatch(value.lower()):
                raise TaskAnalysisError(f"invalid AMI id {value[:40]!r} (expected ami- and 8-17 hex digits)")
            parameters["image_id"] = value.lower()
        elif key == "instance_id":
            if not _INSTANCE_ID.fullmatch(value.lower()):
                raise TaskAnalysisError(f"invalid instance id {value[:40]!r} (expected i- and 8-17 hex digits)")
            parameters["instance_id"] = value.lower()
        elif key == "runtime":
            runtime = _normalize_runtime(value.replace(" ", "") if value.lower().startswith("python") else value)
            if runtime is None:
                raise TaskAnalysisError(f"unsupported runtime {value[:40]!r} (e.g. python3.12, nodejs20.x, java21)")
            parameters["runtime"] = runtime
        elif key == "memory_size":
            size = re.fullmatch(r"(\d{1,6}(?:\.\d{1,3})?)[ \t]{0,2}(mb|mib|m|gb|gib|g)?", value.lower())
            if size is None:
                raise TaskAnalysisError(f"invalid memory size {value[:40]!r} (expected MB, e.g. 512)")
            parameters["memory_size"] = _memory_mb(size.group(1), size.group(2), entry.hint)
        elif key == "timeout":
            span = re.fullmatch(rf"(\d{{1,6}})[ \t]{{0,2}}{_TIME_UNIT}?", value.lower())
            if span is None:
                raise TaskAnalysisError(f"invalid timeout {value[:40]!r} (expected seconds, e.g. 30 or 2 minutes)")
            parameters["timeout"] = _timeout_seconds(span.group(1), span.group(2), entry.hint)
        elif key == "handler":
            if not _HANDLER_VALUE.fullmatch(value):
                raise TaskAnalysisError(f"invalid handler {value[:60]!r} (expected file.function, e.g. app.handler)")
            parameters["handler"] = value
        elif key == "bucket_name":
            parameters["bucket_name"] = _valid_bucket(value.removeprefix("s3://").rstrip("/"), strict=True)
        elif key == "function_name":
            parameters["function_name"] = _valid_function(value, strict=True)
        elif key == "name":
            names.values.insert(0, (value, True))

    name = names.pick("name") if names.values else None
    if name is not None:
        if resource_type is AwsResourceType.S3_BUCKET:
            parameters.setdefault("bucket_name", _valid_bucket(name, strict=True))
        elif resource_type in _LAMBDA_TYPES:
            parameters.setdefault("function_name", _valid_function(name, strict=True))
        elif "bucket_name" not in parameters and "function_name" not in parameters:
            if len(name) > 255 or not name.isprintable():
                raise TaskAnalysisError(f"invalid resource name {name[:60]!r}")
            parameters["name"] = name
    tags = _check_tags(tag_pairs)
    if tags:
        parameters["tags"] = tags
    return parameters


_LAST_MONTH = re.compile(r"(?<![a-z])(?:last|previous|prior|past)[ \t-]{1,3}month(?![a-z])|先月|前月")
_THIS_MONTH = re.compile(
    r"(?<![a-z])(?:month[ \t-]{1,3}to[ \t-]{1,3}date|mtd|this[ \t]{1,3}month|current[ \t]{1,3}month)(?![a-z])|今月"
)
_TRUE = frozenset({"true", "yes", "y", "on", "1"})
_FALSE = frozenset({"false", "no", "n", "off", "0"})


def _period_of(text: str) -> list[str]:
    lower = text.lower()
    return ["last-month"] * len(_LAST_MONTH.findall(lower)) + ["month-to-date"] * len(_THIS_MONTH.findall(lower))


def _billing_parameters(title: str, doc: _Doc) -> dict[str, Any]:
    """AnalyzeBilling's `period` ("last month" / "month to date", `period:` lines win) and `refresh` (explicit only);
    no period said: none is set, and the task reports month to date."""
    parameters: dict[str, Any] = {}
    explicit = _Candidates()
    for entry in _explicit(doc.entries, "period"):
        periods = _period_of(entry.value.replace("-", " "))
        if len(set(periods)) != 1:
            raise TaskAnalysisError(f"invalid period {entry.value[:40]!r} (expected month-to-date or last-month)")
        explicit.add(periods[0])
    found = _Candidates()
    for text in [title, *doc.prose]:
        for said in _period_of(text):
            found.add(said)
    period = explicit.pick("period") if explicit.values else found.pick("period")
    if period is not None:
        parameters["period"] = period
    for entry in _explicit(doc.entries, "refresh"):
        value = entry.value.strip().lower()
        if value not in _TRUE | _FALSE:
            raise TaskAnalysisError(f"invalid refresh {entry.value[:40]!r} (expected true or false)")
        parameters["refresh"] = value in _TRUE
    return parameters


def _region(title: str, doc: _Doc, labels: Sequence[str]) -> tuple[str | None, str]:
    explicit = _Candidates()
    for entry in _explicit(doc.entries, "region"):
        lower = entry.value.lower()
        m = _REGION.search(lower)
        nick = V.REGION_NICKNAMES.get(lower.replace("region", "").replace("リージョン", "").strip())
        if m is not None:
            explicit.add(m.group(1))
        elif nick is not None:
            explicit.add(nick)
        else:
            raise TaskAnalysisError(f"invalid region {entry.value[:40]!r} (expected e.g. us-east-1, eu-west-3)")
    region = explicit.pick("region")
    if region is not None:
        return region, "explicit"
    for source, texts in (("title", [title]), ("labels", list(labels)), ("body", doc.prose)):
        found = _Candidates()
        for text in texts:
            lower = text.lower()
            for m in _REGION.finditer(lower):
                found.add(m.group(1), lower, m.start())
            if not found.values:
                for m in _REGION_NICK.finditer(lower):
                    found.add(V.REGION_NICKNAMES[m.group(1)], lower, m.start())
        region = found.pick("region")
        if region is not None:
            return region, source
    return None, ""


@lru_cache(maxsize=32)
def _account_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    if not names:
        return None
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![0-9A-Za-z_-])(?:{alternatives})(?![0-9A-Za-z_-])", re.IGNORECASE)


_ACCOUNT_BEFORE = re.compile(
    r"(?i:account|cuenta|compte|konto|アカウント)[ \t]{0,3}[:=]?[ \t]{0,3}(?:is[ \t]{1,3})?['\"`(]?$"
)
_ACCOUNT_AFTER = re.compile(r"^['\"`)]?[ \t]{0,3}(?:'s[ \t]{1,3})?(?i:aws[ \t]{1,3})?(?i:account|アカウント|環境)")
_ACCOUNT_NAMED = re.compile(
    r"(?<![A-Za-z0-9_])[Aa]ccount[ \t]{0,3}[:=]?[ \t]{0,3}([A-Z][a-z][A-Za-z0-9_-]{0,47})(?![A-Za-z0-9_-])"
)
_STOPWORDS_TEXT = """
id ids name names number owner owners the this that these and level wide settings alias aliases management production
security development staging root admin administrator role roles structure with without for from into access details
info information type email manager limits quota quotas billing is was has should will please where which when
ownership team owned used usage creation setup
last this previous prior past current month costs cost spend report breakdown
"""
_ACCOUNT_STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def _account(
    title: str,
    doc: _Doc,
    label_info: Sequence[tuple[tuple[str, str], str]],
    accounts: Mapping[str, str] | None,
) -> tuple[str | None, str | None, str]:
    directory: dict[str, tuple[str, str]] = {}  # lower name -> (name, id)
    for entry_name, entry_id in list((accounts or {}).items())[:MAX_ACCOUNT_NAMES]:
        if isinstance(entry_name, str) and entry_name.strip() and len(entry_name) <= 50:
            directory.setdefault(entry_name.strip().lower(), (entry_name.strip(), str(entry_id)))
    known = ", ".join(sorted(n for n, _ in directory.values())) or "(no accounts configured)"
    pattern = _account_pattern(tuple(sorted(directory)))
    by_id: dict[str, list[str]] = {}
    for known_name, known_id in directory.values():
        by_id.setdefault(known_id, []).append(known_name)

    names: list[tuple[int, str, str]] = []  # (tier, name, source)
    ids: list[tuple[int, str, str]] = []

    def unknown(value: str) -> TaskAnalysisError:
        return TaskAnalysisError(f"unknown account {value[:50]!r}; known: {known}")

    def scan_ids(text: str, tier: int, source: str) -> None:
        for m in _ACCOUNT_ID.finditer(text):
            ids.append((tier, m.group(1).replace("-", ""), source))

    def scan_names(text: str, tier_context: int, tier_bare: int, source: str) -> None:
        if pattern is not None:
            for m in pattern.finditer(text):
                before = text[max(0, m.start() - 24) : m.start()]
                after = text[m.end() : m.end() + 24]
                contextual = _ACCOUNT_BEFORE.search(before) is not None or _ACCOUNT_AFTER.search(after) is not None
                name = directory[m.group().lower()][0]
                names.append((tier_context if contextual else tier_bare, name, source))
        for m in _ACCOUNT_NAMED.finditer(text):
            word = m.group(1)
            if word.lower() not in directory and word.lower() not in _ACCOUNT_STOPWORDS:
                raise unknown(word)

    for entry in [*_explicit(doc.entries, "account"), *_explicit(doc.entries, "account_id")]:
        before = len(names) + len(ids)
        scan_ids(entry.value, 0, "explicit")
        if pattern is not None:
            for m in pattern.finditer(entry.value):
                names.append((0, directory[m.group().lower()][0], "explicit"))
        if len(names) + len(ids) == before:
            raise unknown(entry.value.split()[0] if entry.value.split() else entry.value)
    for (prefix, _text), raw in label_info:
        if prefix == "account":
            value = raw.split(":", 1)[-1].split("/", 1)[-1].strip()
            if value.lower() in directory:
                names.append((0, directory[value.lower()][0], "label"))
            elif re.fullmatch(r"\d{12}", value):
                ids.append((0, value, "label"))
            else:
                raise unknown(value)
        else:
            scan_names(raw, 2, 2, "label")
    scan_ids(title, 1, "title")
    scan_names(title, 1, 2, "title")
    for line in doc.prose:
        scan_ids(line, 1, "body")
        scan_names(line, 1, 3, "body")

    name: str | None = None
    source = ""
    if names:
        tier = min(t for t, _, _ in names)
        chosen = list(dict.fromkeys(n for t, n, _ in names if t == tier))
        if len(chosen) > 1:
            raise TaskAnalysisError(
                f"ambiguous account: both {' and '.join(chosen)} are named; name one account per issue"
            )
        name = chosen[0]
        source = next(s for t, n, s in names if t == tier and n == name)
    account_id: str | None = None
    if ids:
        tier = min(t for t, _, _ in ids)
        chosen_ids = list(dict.fromkeys(i for t, i, _ in ids if t == tier))
        if len(chosen_ids) > 1 and name is None:
            raise TaskAnalysisError(f"ambiguous account: the issue names accounts {', '.join(chosen_ids)}")
        if name is not None:
            mapped = directory[name.lower()][1]
            if mapped not in chosen_ids:
                raise TaskAnalysisError(
                    f"account {name!r} is {mapped} but the issue also names account {chosen_ids[0]}"
                )
            account_id = mapped
        else:
            account_id = chosen_ids[0]
            owners = by_id.get(account_id, [])
            if len(owners) == 1:
                name = owners[0]
            source = next(s for t, i, s in ids if t == tier and i == account_id)
    elif name is not None:
        account_id = directory[name.lower()][1]
    return name, account_id, source
