"""Users for LaMP files without `user_id`: questions grouped by a fingerprint of their profile.

LaMP's released files carry no `user_id`, yet a user's questions must stay together: the validation split holds
out whole users, and a swapped history must come from someone else. A profile identifies its owner, so two
questions are one user when

- their profiles hold the same items (same ids and fields, in any order), or
- one profile holds every item of the other: LaMP's time-based split gives a user's later question the earlier
  profile plus the items written since, so the profiles of one user grow by extension.

Users are the connected groups of that relation. Items are compared whole (id, text, tag, date, ...), never by
text alone: many LaMP_2 users tag the same movie with the same description, and those items must not join them.
A question with an empty profile names nobody and stays its own user.
"""

from __future__ import annotations

import hashlib
import json

PREFIX = "profile-"  # inferred users read e.g. "profile-3f2a9c1b7e04", so they never clash with a given user_id


def item_key(item: dict) -> str:
    """A profile item as canonical text: every field, keys sorted (the order of fields and items is irrelevant)."""
    return json.dumps(item, sort_keys=True, ensure_ascii=False)


def profile_fingerprint(items: frozenset[str]) -> str:
    """A short stable name for a set of item keys: the first 12 hex digits of the SHA-1 of the sorted keys."""
    return PREFIX + hashlib.sha1("\n".join(sorted(items)).encode("utf-8")).hexdigest()[:12]


def _find(parent: dict, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]  # path halving keeps the trees flat
        x = parent[x]
    return x


def _link_extensions(profiles: list[frozenset[str]], parent: dict) -> None:
    """Join each profile to every longer profile that holds all of its items (the time split's extension)."""
    holders: dict[str, list[int]] = {}  # item key -> indices of the distinct profiles that hold it
    for i, items in enumerate(profiles):
        for key in items:
            holders.setdefault(key, []).append(i)
    for i, items in enumerate(profiles):
        rarest = min(items, key=lambda k: len(holders[k]))  # a superset must hold this item too: few candidates
        for j in holders[rarest]:
            if len(profiles[j]) > len(items) and items <= profiles[j]:
                parent[_find(parent, i)] = _find(parent, j)


def profile_users(profiles: list[list[dict]]) -> list[str]:
    """One user name per question, from its profile alone: equal or extending profiles share a name.

    A group is named after its shortest profile (the earliest in a time-based split; ties: the smallest
    fingerprint), so the name does not depend on the order of the questions. An empty profile gives "" (no user).
    """
    keys = [frozenset(item_key(item) for item in profile) for profile in profiles]
    distinct = sorted({k for k in keys if k}, key=lambda k: (len(k), profile_fingerprint(k)))
    parent = {i: i for i in range(len(distinct))}
    _link_extensions(distinct, parent)
    names: dict[int, str] = {}
    for i, items in enumerate(distinct):  # shortest first: each group's first member names it
        names.setdefault(_find(parent, i), profile_fingerprint(items))
    index = {k: i for i, k in enumerate(distinct)}
    return [names[_find(parent, index[k])] if k else "" for k in keys]
