"""Tracker form errors in the words of the form, not the API's field names."""

from __future__ import annotations

from follicle.web.tracker import _form_errors


def test_errors_use_the_forms_words() -> None:
    unit, value, empty = _form_errors([
        {"message": "unit 'g/L' does not fit test 'tsh'", "field": "labs[0].unit",
         "allowed": ["mIU/L", "uIU/mL"]},
        {"message": "b12 value 5 pg/mL is outside what a laboratory reports "
                    "(10 to 30,000 pg/mL)", "field": "labs[0].value"},
        {"message": "give at least one of hair_count, treatment, labs or note"}])
    assert (unit["label"], unit["message"]) == (
        "Unit", "this test is not reported in g/L: choose mIU/L or uIU/mL")
    assert value["message"].startswith("this value 5 pg/mL is outside")
    assert empty["label"] == "What to log" and "hair_count" not in empty["message"]
