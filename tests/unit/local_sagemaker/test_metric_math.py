"""Metric math as CloudWatch evaluates it: the user guide's own examples, then the edge cases."""

from __future__ import annotations

import pytest

from local.sagemaker.metric_math import Expression, MetricMathError, Series


def series(*values: float | None, step: int = 60) -> Series:
    """A series from values per period ('None': no datapoint in that period)."""
    return {index * step: float(value) for index, value in enumerate(values) if value is not None}


# The CloudWatch user guide's comparison example: metric1 [30, 20, 0, 0], metric2 [20, -, 20, -].
COMPARED = {"metric1": series(30, 20, 0, 0), "metric2": series(20, None, 20, None)}
# Its IF examples: metric1 [1, 1, 0, 0, -], metric2 [30, -, 0, 0, 30], metric3 [0, 0, 20, -, 20].
CHOSEN = {
    "metric1": series(1, 1, 0, 0, None),
    "metric2": series(30, None, 0, 0, 30),
    "metric3": series(0, 0, 20, None, 20),
}
# The project's error-rate alarm: no traffic in the second-to-last period, no error datum in the last.
TRAFFIC = {"invocations": series(10, 40, 0, None, 4), "errors": series(1, 0, 0, 3, None)}


@pytest.mark.parametrize(
    ("expression", "inputs", "expected"),
    [
        # comparisons and logical operators (the guide's table)
        ("metric1 < metric2", COMPARED, series(0, 0, 1, 0)),
        ("(metric1 >= 30)", COMPARED, series(1, 0, 0, 0)),
        ("metric1 > 15 AND metric2 > 15", COMPARED, series(1, 0, 0, 0)),
        ("metric1 > 15 && metric2 > 15", COMPARED, series(1, 0, 0, 0)),
        ("metric1 > 25 OR metric2 > 15", COMPARED, series(1, 0, 1, 0)),
        ("metric1 > 25 || metric2 > 15", COMPARED, series(1, 0, 1, 0)),
        ("metric1 == 0", COMPARED, series(0, 0, 1, 1)),
        ("metric1 != metric2", COMPARED, series(1, 1, 1, 0)),
        ("metric1 <= 20", COMPARED, series(0, 1, 1, 1)),
        # IF (the guide's tables)
        ("IF(metric1, metric2, metric3)", CHOSEN, series(30, 0, 20, None, None)),
        ("IF(metric1, 5, metric3)", CHOSEN, series(5, 5, 20, None, None)),
        ("IF(metric1, metric2, 5)", CHOSEN, series(30, 0, 5, 5, None)),
        ("IF(metric1, metric2)", CHOSEN, series(30, 0, None, None, None)),
        ("IF(1, metric2, metric3)", CHOSEN, CHOSEN["metric2"]),
        ("IF(0, metric2, metric3)", CHOSEN, CHOSEN["metric3"]),
        ("IF(0, metric2)", CHOSEN, {}),
        ("IF(metric2 > 10, 1, 0)", CHOSEN, series(1, None, 0, 0, 1)),
        # arithmetic: series with series (missing counts as 0), series with numbers, division by zero dropped
        ("metric1 + metric2", COMPARED, series(50, 20, 20, 0)),
        ("metric1 - metric2 * 2", COMPARED, series(-10, 20, -40, 0)),
        ("metric2 * 2", COMPARED, series(40, None, 40, None)),
        ("100 / metric1", COMPARED, series(10 / 3, 5, None, None)),
        ("metric2 / metric1", COMPARED, series(20 / 30, 0, None, None)),
        ("-metric2", COMPARED, series(-20, None, -20, None)),
        ("-(metric1 - 40) / 10", COMPARED, series(1, 2, 4, 4)),
        ("1 + 2 * metric2", COMPARED, series(41, None, 41, None)),
        ("(1 + 2) * metric2", COMPARED, series(60, None, 60, None)),
        ("metric2 ^ 0.5", COMPARED, series(20**0.5, None, 20**0.5, None)),
        ("0 * metric2 + 2 ^ 3 ^ 2", COMPARED, series(512, None, 512, None)),  # ^ is right-associative
        ("0 * metric2 + -2 ^ 2", COMPARED, series(-4, None, -4, None)),  # unary minus binds looser than ^
        ("(metric1 - 10) ^ 0.5", COMPARED, series(20**0.5, 10**0.5, None, None)),  # no real root: dropped
        ("metric2 + 1 / 0", COMPARED, {}),  # a number with no value leaves no datapoint
        ("metric2 + 1.5e1 - .5", COMPARED, series(34.5, None, 34.5, None)),
        # the project's error-rate alarm
        ("IF(invocations > 0, errors / invocations, 0)", TRAFFIC, series(0.1, 0.0, 0, None, 0.0)),
        ("errors / invocations", TRAFFIC, series(0.1, 0.0, None, None, 0.0)),
    ],
)
def test_expressions_evaluate_per_timestamp(expression: str, inputs: dict[str, Series], expected: Series) -> None:
    assert Expression(expression).evaluate(inputs) == pytest.approx(expected)


def test_an_expression_knows_the_ids_it_reads() -> None:
    assert Expression("IF(invocations > 0, errors / invocations, 0)").ids == {"invocations", "errors"}
    assert Expression("2 * m1").ids == {"m1"}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("FILL(m1, 0)", "function FILL is not supported"),
        ("SUM(METRICS())", "function SUM is not supported"),
        ('m1 / SUM(METRICS("errors"))', "function SUM is not supported"),
        ("ANOMALY_DETECTION_BAND(m1)", "function ANOMALY_DETECTION_BAND is not supported"),
        ("m1 * REPEAT", "function REPEAT is not supported"),
        ("AVG([m1, m2])", "function AVG is not supported"),
        ("[m1, m2] / 2", "arrays of time series"),
        ("if(m1 > 0, 1, 0)", "functions are written in upper case (IF)"),
        ("IF(m1)", "IF at position 1 takes 2 or 3 arguments"),
        ("IF(m1, 1, 2, 3)", "takes 2 or 3 arguments (condition, trueValue, falseValue), not 4"),
        ("m1 +", "the expression ends where an operand is expected"),
        ("(m1 + 1", "expected ')' at position 8, found the end of the expression"),
        ("m1 % 2", "unexpected character '%' at position 4"),
        ("m1 = 2", "unexpected character '=' at position 4"),
        ("m1 m2", "unexpected 'm2' at position 4"),
        ("AND m1", "unexpected 'AND' at position 1"),
        ("+m1", "unexpected '+' at position 1"),
        ("", "the expression ends where an operand is expected"),
    ],
)
def test_what_is_outside_the_subset_is_refused_by_name(expression: str, message: str) -> None:
    with pytest.raises(MetricMathError, match="metric math expression") as refused:
        Expression(expression)
    assert message in str(refused.value)


def test_evaluation_names_unknown_ids_and_refuses_a_number_result() -> None:
    with pytest.raises(MetricMathError, match=r"names m3, which no query provides \(known ids: m1, m2\)"):
        Expression("m1 + m3").evaluate({"m1": {}, "m2": {}})
    with pytest.raises(MetricMathError, match="yields a single number, not a time series"):
        Expression("1 + 2").evaluate({})
    with pytest.raises(MetricMathError, match="yields a single number"):
        Expression("IF(1, 5, m1)").evaluate({"m1": {0: 1.0}})


def test_inputs_are_left_untouched() -> None:
    inputs = {"m1": {0: 1.0, 60: 2.0}}
    Expression("-m1").evaluate(inputs)
    Expression("m1").evaluate(inputs)[0] = 9.0
    assert inputs == {"m1": {0: 1.0, 60: 2.0}}
