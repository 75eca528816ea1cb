"""Plan profiles: what a key's plan allows, and which of those behaviours are documented.

Built-in: ``trial`` (daily video cap, tier-gated features), ``pro`` (no caps, large quota),
``payg`` (a credit wallet). A user profile is a YAML or JSON mapping with the fields of
:class:`PlanProfile`, loaded with :func:`load_plan`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, Literal

from heygen_lab import _yaml

__all__ = ["FEATURES", "PLANS", "Billing", "PlanProfile", "load_plan", "resolve_plan"]

Billing = Literal["subscription", "wallet", "usage_based"]
_BILLINGS: Final = ("subscription", "wallet", "usage_based")

#: Features a profile can gate: name -> (route, how it is refused).
FEATURES: Final[Mapping[str, str]] = {
    "talking_photo": "POST upload:/v1/talking_photo -> 400599 TIER_NOT_SUPPORT (v1 envelope)",
    "direct_upload": "POST /v3/assets/direct-uploads -> 403 forbidden (v3 envelope)",
}


@dataclass(frozen=True)
class PlanProfile:
    """What a plan allows.

    ``credits`` is the starting balance (also ``remaining_quota``); each video costs ``video_cost``
    and a video that the balance cannot pay gets 402 ``insufficient_credit``. ``daily_video_cap``
    (per emulator-clock day) gives 429 ``trial_video_limit_exceeded``. ``gated_features`` names
    entries of :data:`FEATURES`. ``provenance`` maps behaviours to documented/reported/simulated.
    """

    name: str
    description: str = ""
    credits: int = 1_000_000
    video_cost: int = 1
    daily_video_cap: int | None = None
    billing: Billing = "subscription"
    gated_features: frozenset[str] = frozenset()
    provenance: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("PlanProfile.name must not be empty")
        if self.credits < 0 or self.video_cost < 0:
            raise ValueError(f"plan {self.name!r}: credits and video_cost must be >= 0")
        if self.daily_video_cap is not None and self.daily_video_cap < 0:
            raise ValueError(f"plan {self.name!r}: daily_video_cap must be >= 0 or null")
        if self.billing not in _BILLINGS:
            raise ValueError(f"plan {self.name!r}: billing {self.billing!r} is not one of "
                             + ", ".join(_BILLINGS))
        unknown = set(self.gated_features) - set(FEATURES)
        if unknown:
            raise ValueError(f"plan {self.name!r}: unknown gated feature(s) {sorted(unknown)}; "
                             f"valid: {', '.join(FEATURES)}")


PLANS: Final[Mapping[str, PlanProfile]] = {
    "trial": PlanProfile(
        name="trial", description="free API trial: 5 videos per day, no paid features",
        credits=0, video_cost=0, daily_video_cap=5,
        gated_features=frozenset({"talking_photo", "direct_upload"}),
        provenance={"daily_video_cap": "reported (429 trial_video_limit_exceeded, limit 5)",
                    "gated_features": "simulated (400599 TIER_NOT_SUPPORT is documented, which "
                                      "features a trial lacks is not)",
                    "credits": "simulated"}),
    "pro": PlanProfile(
        name="pro", description="subscription with API access: no caps, large quota",
        provenance={"credits": "simulated (a large balance)", "billing": "documented block kind"}),
    "payg": PlanProfile(
        name="payg", description="pay as you go: a wallet of 10 credits, 1 per video",
        credits=10, video_cost=1, billing="wallet",
        provenance={"insufficient_credit": "documented (402 on v3)",
                    "credits": "simulated (10 credits, 1 per video)"}),
}


def resolve_plan(plan: str | PlanProfile) -> PlanProfile:
    """A built-in profile by name, a profile file (.yaml / .json), or ``plan`` itself;
    ValueError names the valid names."""
    if isinstance(plan, PlanProfile):
        return plan
    if plan in PLANS:
        return PLANS[plan]
    if Path(plan).suffix in {".yaml", ".yml", ".json"} and Path(plan).is_file():
        return load_plan(plan)
    raise ValueError(f"unknown plan {plan!r}; valid plans: {', '.join(sorted(PLANS))}, "
                     "or the path of a plan file (.yaml or .json)")


def load_plan(path: str | Path) -> PlanProfile:
    """Read a profile from a YAML or JSON file (a mapping of :class:`PlanProfile` fields)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot be read as a plan file ({exc})") from None
    if p.suffix == ".json":
        try:
            raw: Any = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"{p}: not valid JSON ({exc})") from None
    else:
        raw = _yaml.load(text, str(p))  # YAMLInputError is a ValueError naming file:line
    if not isinstance(raw, dict):
        raise ValueError(f"{p}: a plan file must hold a mapping, got {type(raw).__name__}")
    valid = {f.name for f in fields(PlanProfile)}
    unknown = set(raw) - valid
    if unknown:
        raise ValueError(f"{p}: unknown key(s) {sorted(unknown)}; valid keys: "
                         + ", ".join(sorted(valid)))
    for key in ("credits", "video_cost", "daily_video_cap"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"{p}: {key} must be an integer, got {value!r}")
    for key in ("name", "description", "billing"):
        if key in raw and not isinstance(raw[key], str):
            raise ValueError(f"{p}: {key} must be a string, got {type(raw[key]).__name__}")
    if "gated_features" in raw:
        features = raw["gated_features"] or ()
        if not isinstance(features, list | tuple) or not all(isinstance(f, str)
                                                             for f in features):
            raise ValueError(f"{p}: gated_features must be a list of feature names "
                             f"({', '.join(FEATURES)})")
        raw["gated_features"] = frozenset(features)
    if "provenance" in raw:
        prov = raw["provenance"] or {}
        if not isinstance(prov, dict):
            raise ValueError(f"{p}: provenance must be a mapping of behaviour: source")
        raw["provenance"] = {str(k): str(v) for k, v in prov.items()}
    try:
        return PlanProfile(**raw)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{p}: {exc}") from None
