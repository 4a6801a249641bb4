"""Issue analysis: read a GitHub issue into a task draft (deterministic rules, no LLM)."""

from .rules import Analysis, analyze_issue

__all__ = ["Analysis", "analyze_issue"]
