"""Limits on what one phone, one address or one service may ask in a while
(one-time codes, dossier look-ups): a sliding window of counts, pure, the
clock given by the caller. A burst over the limit is refused as a whole and
says when to try again; nothing is half done."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    what: str          # "phone", "address", "service", "lookup"
    count: int         # at most this many …
    per_s: float       # … in this many seconds


@dataclass
class Limiter:
    rules: tuple[Rule, ...]
    max_keys: int = 100_000         # memory bound: the oldest keys are dropped first
    _seen: dict[tuple[int, str], deque] = field(default_factory=dict)

    def check(self, now: float, **keys: str) -> tuple[bool, float, str]:
        """(allowed, retry_after_s, the rule's `what` that refused). Only counts
        when every rule allows, so a refused try does not use up the limit."""
        worst: tuple[float, str] = (0.0, "")
        for i, rule in enumerate(self.rules):
            key = keys.get(rule.what)
            if key is None:
                continue
            q = self._seen.get((i, key))
            if q is None:
                continue
            while q and now - q[0] >= rule.per_s:
                q.popleft()
            if len(q) >= rule.count:
                wait = rule.per_s - (now - q[0])
                if wait > worst[0]:
                    worst = (wait, rule.what)
        if worst[1]:
            return False, worst[0], worst[1]
        for i, rule in enumerate(self.rules):
            key = keys.get(rule.what)
            if key is not None:
                self._seen.setdefault((i, key), deque()).append(now)
        if len(self._seen) > self.max_keys:
            for k in list(self._seen)[: len(self._seen) - self.max_keys]:
                del self._seen[k]
        return True, 0.0, ""
