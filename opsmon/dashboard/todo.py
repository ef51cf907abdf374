"""风险处置待办: what waits for the signed-in user, as cards that open the 风险处置 page's matching list.

Shown where a user lands — the overview for region users, their own hospital's profile for a
hospital user — so that an overdue item is the first thing they see. The counts are
:func:`opsmon.disposal.todo_counts` for the user's scope and role (through :mod:`data`); each
card links to ``/disposal`` filtered to the items it counts.
"""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import html

from opsmon.dashboard import auth, context, data, url_query
from opsmon.dashboard import components as c
from opsmon.dashboard.format import integer
from opsmon.dashboard.strings import t

# Which counts each disposal role has to act on; overdue first. A read-only role (leaders, analysts)
# still sees what is overdue in its area.
CARDS: dict[str, tuple[str, ...]] = {
    "supervise": ("overdue", "to_assign", "to_review"),
    "respond": ("overdue", "to_answer"),
    "": ("overdue",),
}
# The 风险处置 page's URL filter listing what a card counts (opsmon.disposal.todo_counts' definitions).
FILTERS: dict[str, dict[str, Any]] = {
    "overdue": {"overdue": True},
    "to_assign": {"state": ["open"]},
    "to_answer": {"state": ["assigned", "returned"]},
    "to_review": {"state": ["responded"]},
}


def href(key: str) -> str:
    """The link of the card *key*: the disposal list filtered to what it counts."""
    return url_query.href("/disposal", **FILTERS[key])


def panel(prefix: str) -> html.Div | None:
    """The signed-in user's 待办 cards (ids ``{prefix}-todo-{key}``, the whole ``{prefix}-todo``); None
    without a user."""
    user = auth.current_user()
    if user is None:
        return None
    counts = data.disposal_todo(context.reader())
    keys = CARDS.get(user.permissions.disposal, CARDS[""])
    width = {"xs": 6, "md": 3}
    cards = [c.kpi(t(f"todo.{key}"), integer(counts.get(key, 0)), f"{prefix}-todo-{key}",
                   sub=t(f"todo.{key}_sub"), href=href(key),
                   # Overdue is the one to act on first: red whenever there is any.
                   tone="bad" if key == "overdue" and counts.get(key, 0) else None, width=width)
             for key in keys]
    return html.Div([html.Div(t("todo.title"), className="opsmon-section-title mb-2"),
                     dbc.Row(cards, className="g-3")], id=f"{prefix}-todo", className="mb-3")
