"""Deterministic prompt-injection and scope checks on an issue's raw text, in the rule analyzer's vocabulary.

Run before any text reaches a model and again on what the model answered:

* `find_injection` spots text written to steer an assistant (override phrases, role play, fake chat or tool
  markup) and requests to act on every resource at once ("delete all buckets"), which no single task can be.
  It reads the raw text, HTML comments included: hidden comments are a classic injection carrier.
* `names_operation` tells whether the text names an operation at all, with the rule analyzer's words.
* `grounded` tells whether a value the model proposes is written in the text.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from ..events import IssueRef
from ..model import AwsTaskType
from . import vocabulary as V

MAX_SCAN_CHARS = 70_000

_OVERRIDE = re.compile(
    r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?"
    r"\b(?:instruction|instructions|prompt|prompts|rules|directions|guidelines|guardrails|system message)\b"
)
_ROLE = re.compile(
    r"\b(?:you are now|from now on,? you|act as (?:an?|the|my) |pretend (?:to be|you are)|new instructions|"
    r"system prompt|developer mode|jailbreak|do anything now|as an ai(?: language model)?,? you must)"
)
_MARKUP = re.compile(
    r"</?\s*(?:system|assistant|user|human|instructions?|issue|tool_use|tool_result|function_calls?|invoke)\s*>"
    r"|\[/?(?:inst|system)\]|<\|im_(?:start|end)\|>|^\s*(?:system|assistant|human)\s*:",
    re.MULTILINE,
)
_FOREIGN = re.compile(
    r"(?:指示|命令|ルール|プロンプト)(?:を|は)?(?:すべて|全て)?(?:無視|忘れ)"
    r"|ignora(?:r)? (?:las |todas las )?(?:instrucciones|reglas)"
    r"|ignorier(?:e|en)? (?:alle |die )?(?:vorherigen |bisherigen )?(?:anweisungen|regeln)"
    r"|ignore[rz]? (?:les |toutes les )?(?:instructions|règles|consignes)"
)
_QUANTIFIERS = [
    *("all", "every", "each", "everything", "entire", "whole", "any"),
    *("todos", "todas", "tous", "toutes", "alle", "sämtliche", "saemtliche", "jede", "jeden"),
]
_CJK_BULK = re.compile(r"(?:全て|すべて|全部|一括)(?:の[^。\n]{0,12})?(?:を)?(?:削除|消去|停止|終了)")


def _normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text[:MAX_SCAN_CHARS]).casefold()
    return re.sub(r"[\u200b-\u200f\u2060\ufeff\u00ad]", "", text)


@lru_cache(maxsize=1)
def _bulk_destructive() -> re.Pattern[str]:
    """A destructive word of the rule vocabulary followed closely by a universal quantifier: "delete all ..."."""
    words = sorted(
        (
            phrase
            for phrase, op in V.LATIN_OPS.items()
            if op.task_type is AwsTaskType.DELETE_RESOURCE or op.action in ("stop", "terminate")
        ),
        key=len,
        reverse=True,
    )
    verbs = "|".join(re.escape(w) for w in words)
    quantifiers = "|".join(_QUANTIFIERS)
    return re.compile(rf"\b(?:{verbs})\b(?:\s+(?:of\s+)?(?:the|my|our|your|this|these|those))?\s+(?:{quantifiers})\b")


def _text(issue: IssueRef) -> str:
    return _normalize("\n".join([issue.title, issue.body, *issue.labels]))


def find_injection(issue: IssueRef) -> str | None:
    """Why the issue reads as an attempt to steer the analyzer (or to act on everything), else None."""
    text = _text(issue)
    checks = (
        (_OVERRIDE, "asks to ignore or override the agent's instructions"),
        (_ROLE, "tries to give the agent a new role or instructions"),
        (_MARKUP, "contains chat or tool markup that could impersonate the prompt"),
        (_FOREIGN, "asks to ignore the agent's instructions"),
        (_bulk_destructive(), "asks for a destructive action on every resource; a task acts on one resource"),
        (_CJK_BULK, "asks for a destructive action on every resource; a task acts on one resource"),
    )
    for pattern, reason in checks:
        match = pattern.search(text)
        if match:
            return f"the request {reason} ({match.group().strip()[:60]!r})"
    return None


@lru_cache(maxsize=1)
def _operation_words() -> dict[AwsTaskType, re.Pattern[str]]:
    by_type: dict[AwsTaskType, list[str]] = {}
    for phrase, op in V.LATIN_OPS.items():
        by_type.setdefault(op.task_type, []).append(re.escape(phrase))
    return {
        task_type: re.compile(r"\b(?:" + "|".join(sorted(words, key=len, reverse=True)) + r")\b")
        for task_type, words in by_type.items()
    }


def names_operation(issue: IssueRef, task_type: AwsTaskType, action: str | None = None) -> bool:
    """Whether the issue's text names this operation anywhere (any word the rule analyzer maps to it)."""
    text = _text(issue)
    if action is not None and any(
        op.action == action and re.search(rf"\b{re.escape(p)}\b", text) for p, op in V.LATIN_OPS.items()
    ):
        return True
    pattern = _operation_words().get(task_type)
    if pattern is not None and pattern.search(text):
        return True
    return any(op.task_type is task_type and word in text for word, op in V.CJK_OPS.items())


def grounded(issue: IssueRef, value: object) -> bool:
    """Whether a proposed value is written in the issue (strings and numbers; maps and lists all the way down)."""
    if isinstance(value, dict):
        return all(grounded(issue, k) and grounded(issue, v) for k, v in value.items())
    if isinstance(value, list):
        return all(grounded(issue, v) for v in value)
    if isinstance(value, bool) or value is None:
        return True
    needle = _normalize(str(value)).strip()
    return bool(needle) and needle in _text(issue)
