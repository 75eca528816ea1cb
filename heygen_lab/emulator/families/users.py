"""v3 users: ``GET /v3/users/me``, the account and exactly one billing block [doc: spec]."""

from __future__ import annotations

from typing import Any, Final

from ..http import Call, v3

#: The subscription tiers the spec names; a plan profile of another name shows as ``pro`` [sim].
_TIERS: Final = frozenset({"free", "starter", "creator", "pro", "team", "enterprise",
                           "business_plus"})


@v3("UserMeGet")
def me(call: Call) -> Any:
    """The emulator's user; the billing block follows the plan profile's ``billing`` [sim]."""
    state, plan = call.state, call.state.plan
    with state.lock:
        credits, used = state.credits, state.credits_used
        if plan.video_cost == 0 and plan.daily_video_cap is not None:
            credits = max(0, plan.daily_video_cap - state.videos_today())
    blocks: dict[str, dict[str, Any]] = {
        "subscription": {
            "plan": "free" if plan.name == "trial" else plan.name if plan.name in _TIERS
            else "pro",
            "credits": {"premium_credits": {"remaining": credits, "resets_at": None},
                        "add_on_credits": {"remaining": 0, "resets_at": None}}},
        "wallet": {"remaining_balance": credits, "currency": "credits",
                   "auto_reload": {"enabled": False, "amount_usd": None, "threshold_usd": None}},
        "usage_based": {"included_credits": float(plan.credits), "remaining_credits": credits,
                        "spending_cap_usd": None, "spending_current_usd": float(used)},
    }
    return {"username": state.username, "email": "demo@emulator.invalid",
            "first_name": "Emu", "last_name": "Lator", "billing_type": plan.billing,
            plan.billing: blocks[plan.billing]}
