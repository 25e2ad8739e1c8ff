"""The three quiz personas of issue 3, shared by the unit, terminal and browser tests.

Each persona answers the questions it has an answer for; any other question gets the
plain default a real person would give: "No" for yes/no, "None of these" for tick lists,
otherwise "don't know / skip".
"""

from __future__ import annotations

from typing import Any

VEGAN = {
    "name": "vegan",
    "answers": {
        "age": 28, "sex": "female", "onset": "gradual", "pattern": "diffuse",
        "duration": "6_to_12", "shedding": "yes", "diet": "vegan",
        "nerve_symptoms": ["pins_and_needles"], "blood_symptoms": ["fatigue"],
        "supplements": [],
    },
    "labs": [{"test": "b12", "value": "120", "unit": "pg/mL"}],
}
RECEDING = {
    "name": "receding",
    "answers": {
        "age": 32, "sex": "male", "onset": "gradual", "pattern": "temples_crown",
        "duration": "over_12", "family_history": "yes", "shedding": "no",
        "diet": "omnivore",
    },
    "labs": [],
}
POSTPARTUM = {
    "name": "postpartum",
    "answers": {
        "age": 31, "sex": "female", "onset": "sudden", "pattern": "diffuse",
        "duration": "under_3", "shedding": "yes", "events": ["childbirth"],
        "event_when": "3_to_6", "pull_test": "positive", "breastfeeding": "yes",
        "pregnant": "no", "diet": "omnivore",
    },
    "labs": [],
}
PERSONAS = [VEGAN, RECEDING, POSTPARTUM]


def default_answer(question: Any) -> Any:
    """What a persona says to a question it has no answer for."""
    if question.type == "multi":
        return []
    values = [o.value for o in question.options]
    if "no" in values:
        return "no"
    return "skip"


def answer_for(persona: dict[str, Any], question: Any) -> Any:
    return persona["answers"].get(question.id, default_answer(question))
